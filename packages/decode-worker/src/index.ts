// Public surface of @radixserve/decode-worker: the decode role of the shared worker runtime
// (@radixserve/worker). Its binary (dist/main.js) is a worker with --disagg-mode decode.
import { runRoleWorkerCli } from "@radixserve/worker";

/** Runs a decode worker with the given `radixserve worker` flags; resolves to the exit code. */
export function runDecodeWorker(argv: readonly string[]): Promise<number> {
  return runRoleWorkerCli("decode", argv);
}
