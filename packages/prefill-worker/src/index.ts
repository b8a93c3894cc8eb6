export const PACKAGE = "@radixserve/prefill-worker";
