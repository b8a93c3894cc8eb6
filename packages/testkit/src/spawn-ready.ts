/**
 * Starts a RadixServe process (worker, router, launcher) and waits for its ready line (core's
 * `*_READY_PREFIX <json>`), the one way tests and benches do it. Every process started here is
 * SIGKILLed if the test process exits first, so a failed test leaves nothing running.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { createInterface } from "node:readline";

export interface ReadyProcess<T> {
  proc: ChildProcess;
  /** The JSON of the ready line. */
  ready: T;
  /** Resolves when the process has exited. */
  exited: Promise<void>;
  /** The last few KB of its stderr (for failure messages). */
  stderr(): string;
  /** SIGCONT (a stopped process), then `signal` (default SIGTERM), SIGKILL after `graceMs`; resolves once exited. */
  stop(signal?: NodeJS.Signals, graceMs?: number): Promise<void>;
}

export interface SpawnReadyOptions {
  /** A label for failure messages and RADIXSERVE_TEST_VERBOSE output. */
  name: string;
  /** Arguments to node: the script, then its flags. */
  argv: string[];
  /** The ready-line prefix to wait for. */
  prefix: string;
  env?: Record<string, string>;
  /** Default 120 s (a cold model load on a busy machine). */
  timeoutMs?: number;
}

const live = new Set<ChildProcess>();

/** Kills `proc` (SIGKILL) if the test process exits or is signalled while it still runs. */
export function killOnExit(proc: ChildProcess): void {
  live.add(proc);
  proc.once("exit", () => live.delete(proc));
}

process.once("exit", () => {
  for (const c of live) c.kill("SIGKILL");
});
// A test process killed by a signal (a timeout, Ctrl-C) runs no "exit" hook unless it handles it.
for (const sig of ["SIGINT", "SIGTERM"] as const)
  process.once(sig, () => {
    for (const c of live) c.kill("SIGKILL");
    process.exit(128 + (sig === "SIGINT" ? 2 : 15));
  });

export async function spawnReady<T = Record<string, unknown>>(
  opts: SpawnReadyOptions,
): Promise<ReadyProcess<T>> {
  const proc = spawn(process.execPath, opts.argv, {
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, RADIXSERVE_LOG_LEVEL: process.env["RADIXSERVE_LOG_LEVEL"] ?? "warn", ...opts.env },
  });
  killOnExit(proc);
  const exited = new Promise<void>((r) => proc.once("exit", () => r()));
  let err = "";
  proc.stderr!.on("data", (d: Buffer) => {
    err = (err + d.toString()).slice(-8000);
    if (process.env["RADIXSERVE_TEST_VERBOSE"]) process.stderr.write(`[${opts.name}] ${d}`);
  });
  const timeoutMs = opts.timeoutMs ?? 120_000;
  const ready = await new Promise<T>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`${opts.name} not ready in ${timeoutMs} ms:\n${err}`)),
      timeoutMs,
    );
    createInterface({ input: proc.stdout! }).on("line", (line) => {
      if (!line.startsWith(`${opts.prefix} `)) return;
      clearTimeout(timer);
      resolve(JSON.parse(line.slice(opts.prefix.length + 1)) as T);
    });
    void exited.then(() => {
      clearTimeout(timer);
      reject(
        new Error(`${opts.name} exited (${proc.signalCode ?? proc.exitCode}) before it was ready:\n${err}`),
      );
    });
  }).catch((e: unknown) => {
    proc.kill("SIGKILL");
    throw e;
  });
  return {
    proc,
    ready,
    exited,
    stderr: () => err,
    async stop(signal: NodeJS.Signals = "SIGTERM", graceMs = 5000) {
      if (proc.exitCode !== null || proc.signalCode !== null) return;
      proc.kill("SIGCONT");
      proc.kill(signal);
      const t = setTimeout(() => proc.kill("SIGKILL"), graceMs);
      await exited;
      clearTimeout(t);
    },
  };
}
