export * from "./disagg-mode.js";
export * from "./ready-line.js";
