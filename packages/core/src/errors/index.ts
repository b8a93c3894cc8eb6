export * from "./catalog.js";
export * from "./radixserve-error.js";
