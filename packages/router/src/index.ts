export const PACKAGE = "@radixserve/router";
