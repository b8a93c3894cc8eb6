export * from "./http-server.js";
export * from "./names.js";
export * from "./serving-metrics.js";
