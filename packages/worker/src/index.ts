// Public surface of @radixserve/worker: the worker process of every mode (unified, prefill,
// decode): flags, the engine, the scheduler and KV blocks, the gRPC services and the disaggregated
// prefill and decode sides. The role packages (prefill-worker, decode-worker) and the cli start it.
export { buildWorkerCommand, parseWorkerArgs, runWorkerCli } from "./cli.js";
export { WORKER_DEFAULTS, type WorkerConfig } from "./config.js";
export {
  type PrefillBatch,
  PrefillJob,
  PrefillScheduler,
  type PrefillStats,
} from "./disagg/prefill/index.js";
export { type KvLease, KvManager, type KvManagerConfig, type KvStats } from "./kv/kv-manager.js";
export { modelHashSeed } from "./model-identity.js";
export { runRoleWorkerCli } from "./role-main.js";
export * from "./scheduler/index.js";
export { startWorker, type WorkerHandle } from "./worker.js";
