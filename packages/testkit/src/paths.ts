import { join } from "node:path";
import { fileURLToPath } from "node:url";

/** The repository root (this file is packages/testkit/{src,dist}/paths.*). */
export const REPO_ROOT = fileURLToPath(new URL("../../..", import.meta.url));
/** The `radixserve` binary (run after `npm run build`). */
export const CLI_PATH = join(REPO_ROOT, "packages", "cli", "dist", "cli.js");
/** The worker binary of every mode. */
export const WORKER_MAIN_PATH = join(REPO_ROOT, "packages", "worker", "dist", "main.js");
