// Public surface of @radixserve/cli: the launcher behind `radixserve start`. The `radixserve` binary
// itself is dist/cli.js (start, router, worker, make-model).
export { type LaunchOptions, launch } from "./launcher/launcher.js";
