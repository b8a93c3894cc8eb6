// Runs `radixserve start` (the launcher) as a user does and waits for its ready line.
import { type ChildProcess, spawn } from "node:child_process";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { ROOT } from "./cluster.js";

export const CLI = join(ROOT, "packages", "cli", "dist", "cli.js");
export const env = {
  ...process.env,
  RADIXSERVE_CACHE: process.env["RADIXSERVE_CACHE"] ?? join(ROOT, ".cache"),
  RADIXSERVE_LOG_LEVEL: "warn",
};

export interface Launched {
  proc: ChildProcess;
  ready: {
    baseUrl: string;
    port: number;
    pids: { worker: number; router: number };
    workerMetricsUrls: string[];
  };
  stderr: () => string;
  exit: Promise<{ code: number | null; signal: string | null }>;
}

/** Starts the launcher on a free port with `args`; resolves on its RADIXSERVE_READY line. */
export async function launch(args: string[] = []): Promise<Launched> {
  const proc = spawn(process.execPath, [CLI, "start", "--port", "0", "--kv-cache-blocks", "256", ...args], {
    env,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let err = "";
  proc.stderr!.on("data", (d: Buffer) => {
    err += d.toString();
  });
  const exit = new Promise<{ code: number | null; signal: string | null }>((r) =>
    proc.once("exit", (code, signal) => r({ code, signal })),
  );
  const ready = await new Promise<Launched["ready"]>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`launcher not ready:\n${err}`)), 120_000);
    createInterface({ input: proc.stdout! }).on("line", (line) => {
      if (line.startsWith("RADIXSERVE_READY ")) {
        clearTimeout(timer);
        resolve(JSON.parse(line.slice("RADIXSERVE_READY ".length)));
      }
    });
    void exit.then((e) => {
      clearTimeout(timer);
      reject(new Error(`launcher exited (${e.code ?? e.signal}) before ready:\n${err}`));
    });
  });
  return { proc, ready, stderr: () => err, exit };
}

export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
