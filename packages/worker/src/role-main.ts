/**
 * The entry of a role package (`@radixserve/prefill-worker`, `@radixserve/decode-worker`): a worker
 * process whose `--disagg-mode` is fixed to that role. The flag may still be given if it names the
 * same role; another role is refused with one line and exit code 2.
 */
import type { DisaggMode } from "@radixserve/core";
import { runWorkerCli } from "./cli.js";

/** The flags of `radixserve worker` with `--disagg-mode <role>` forced; returns the exit code. */
export async function runRoleWorkerCli(role: DisaggMode, argv: readonly string[]): Promise<number> {
  const args = [...argv];
  for (let i = 0; i < args.length; i++) {
    const a = args[i] ?? "";
    const given =
      a === "--disagg-mode" ? args[i + 1] : a.startsWith("--disagg-mode=") ? a.slice(14) : undefined;
    if (given !== undefined && given !== role) {
      process.stderr.write(
        `radixserve ${role} worker: --disagg-mode ${given} given to the ${role} worker binary; use \`radixserve worker --disagg-mode ${given}\`\n`,
      );
      return 2;
    }
  }
  return runWorkerCli(["--disagg-mode", role, ...args]);
}
