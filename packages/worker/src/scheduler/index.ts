export * from "./config.js";
export * from "./engine-loop.js";
export * from "./prompt-logprobs.js";
export * from "./request.js";
export * from "./scheduler.js";
export * from "./speculation.js";
export * from "./step-metrics.js";
export * from "./validate.js";
