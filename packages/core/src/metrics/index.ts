export * from "./http-server.js";
export * from "./names.js";
export * from "./rate-meter.js";
export * from "./serving-metrics.js";
export * from "./speculative-metrics.js";
