export * from "./block-allocator.js";
export * from "./block-hash.js";
export * from "./radix-cache.js";
