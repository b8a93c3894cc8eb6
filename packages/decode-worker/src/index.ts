export const PACKAGE = "@radixserve/decode-worker";
