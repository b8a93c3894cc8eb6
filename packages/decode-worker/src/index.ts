// Public surface of @radixserve/decode-worker: the worker process (unified mode now; decode mode next).
export { buildWorkerCommand, parseWorkerArgs, runWorkerCli } from "./cli.js";
export { type DisaggMode, READY_PREFIX, WORKER_DEFAULTS, type WorkerConfig } from "./config.js";
export { modelHashSeed } from "./model-identity.js";
export { startWorker, type WorkerHandle } from "./worker.js";
