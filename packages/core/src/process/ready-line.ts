/**
 * The start-up handshake between a parent and the processes it starts: when a process is ready it
 * prints one line `<PREFIX> <json>` on stdout (the worker its address and model, the router its
 * port, the launcher the base URL). The launcher, the test kit and the benches wait for these lines.
 */

/** Printed by a worker once it serves: `RADIXSERVE_WORKER_READY {"port":...,"model":...}`. */
export const WORKER_READY_PREFIX = "RADIXSERVE_WORKER_READY";
/** Printed by the router once it listens: `RADIXSERVE_ROUTER_READY {"port":...,"host":...}`. */
export const ROUTER_READY_PREFIX = "RADIXSERVE_ROUTER_READY";
/** Printed by `radixserve start` once router and workers are all ready: `RADIXSERVE_READY {"baseUrl":...}`. */
export const LAUNCHER_READY_PREFIX = "RADIXSERVE_READY";
