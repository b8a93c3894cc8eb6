// Public surface of @radixserve/engine-native.
export type * from "./types.js";
