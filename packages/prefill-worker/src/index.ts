// Public surface of @radixserve/prefill-worker: the prefill role of the shared worker runtime
// (@radixserve/worker). Its binary (dist/main.js) is a worker with --disagg-mode prefill.
import { runRoleWorkerCli } from "@radixserve/worker";

/** Runs a prefill worker with the given `radixserve worker` flags; resolves to the exit code. */
export function runPrefillWorker(argv: readonly string[]): Promise<number> {
  return runRoleWorkerCli("prefill", argv);
}
