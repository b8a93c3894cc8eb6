// Public surface of @radixserve/prefill-worker: the `--disagg-mode prefill` side of a worker.
export { PrefillJob } from "./prefill-job.js";
export { type PrefillBatch, PrefillScheduler, type PrefillStats } from "./prefill-scheduler.js";
export { createPrefillServer, type PrefillServer, type PrefillServerOptions } from "./prefill-server.js";
