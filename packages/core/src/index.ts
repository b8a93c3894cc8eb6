// Public surface of @radixserve/core: what router and workers share.
export * from "./auth/index.js";
export * from "./cache/index.js";
export * from "./discovery/index.js";
export * from "./errors/index.js";
export * from "./events/index.js";
export * from "./log/index.js";
export * from "./metrics/index.js";
export * from "./model/index.js";
export * from "./proto/index.js";
export * from "./scheduler/index.js";
export * from "./tokenizer/index.js";
export * from "./transport/index.js";
