// The `--disagg-mode prefill` side of a worker: what worker.ts and the tests use of it.
export { PrefillJob } from "./prefill-job.js";
export { type PrefillBatch, PrefillScheduler, type PrefillStats } from "./prefill-scheduler.js";
export { createPrefillServer, type PrefillServer, type PrefillServerOptions } from "./prefill-server.js";
