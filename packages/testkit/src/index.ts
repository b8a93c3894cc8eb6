// Public surface of @radixserve/testkit: what tests and benches share to start real processes and
// read them (spawn and wait for the ready line, poll, Prometheus text, binary paths). Test-only.
export { metricSum, metricValue } from "./metrics-text.js";
export { CLI_PATH, REPO_ROOT, WORKER_MAIN_PATH } from "./paths.js";
export { waitFor } from "./poll.js";
export { killOnExit, type ReadyProcess, type SpawnReadyOptions, spawnReady } from "./spawn-ready.js";
