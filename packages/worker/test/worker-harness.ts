/**
 * Starts a real worker process (packages/worker/dist/main.js) and waits for its READY
 * line (through the test kit). Always call stop() (tests do it in `after`): it sends SIGTERM, then SIGKILL after a grace
 * period, so no process outlives the test.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import {
  createWorkerClient,
  makeModel,
  WORKER_READY_PREFIX,
  type WorkerServiceClient,
} from "@radixserve/core";
import { spawnReady } from "@radixserve/testkit";

export const WORKER_MAIN = fileURLToPath(new URL("../dist/main.js", import.meta.url));

export interface WorkerProcess {
  proc: ChildProcess;
  grpcPort: number;
  metricsPort: number;
  client: WorkerServiceClient;
  stderr: () => string;
  /** Resolves with the exit code (or signal name). */
  exited: Promise<number | string>;
  stop(): Promise<number | string>;
}

export async function startWorkerProcess(args: string[], timeoutMs = 60_000): Promise<WorkerProcess> {
  const w = await spawnReady<{ grpcPort: number; metricsPort: number }>({
    name: "worker",
    argv: [WORKER_MAIN, ...args],
    prefix: WORKER_READY_PREFIX,
    timeoutMs,
  });
  const exited = w.exited.then(() => w.proc.exitCode ?? w.proc.signalCode ?? "unknown");
  const client = createWorkerClient(`127.0.0.1:${w.ready.grpcPort}`);
  return {
    proc: w.proc,
    ...w.ready,
    client,
    stderr: w.stderr,
    exited,
    async stop() {
      client.close();
      await w.stop("SIGTERM", 10_000);
      return exited;
    },
  };
}

/** Runs a command that is expected to exit on its own; returns exit code and stderr. */
export async function runWorkerToExit(
  args: string[],
): Promise<{ code: number | null; stderr: string; stdout: string }> {
  const proc = spawn(process.execPath, [WORKER_MAIN, ...args], { stdio: ["ignore", "pipe", "pipe"] });
  let stderr = "";
  let stdout = "";
  proc.stderr.on("data", (d: Buffer) => {
    stderr += d.toString();
  });
  proc.stdout.on("data", (d: Buffer) => {
    stdout += d.toString();
  });
  const t = setTimeout(() => proc.kill("SIGKILL"), 30_000);
  const code = await new Promise<number | null>((resolve) => proc.on("exit", (c) => resolve(c)));
  clearTimeout(t);
  return { code, stderr, stdout };
}

/** A worker process on a fresh tiny model in its own temporary directory; stop() removes both. */
export interface TinyWorker {
  w: WorkerProcess;
  stop(): Promise<void>;
}

/** Makes the tiny model under a new temporary directory (`name` in its name) and starts a worker on it with `args`. */
export async function startTinyWorker(name: string, args: string[]): Promise<TinyWorker> {
  const dir = mkdtempSync(join(tmpdir(), `radixserve-${name}-`));
  try {
    const modelPath = await makeModel({ preset: "tiny", out: join(dir, "tiny") });
    const w = await startWorkerProcess(["--model-path", modelPath, ...args]);
    return {
      w,
      async stop() {
        await w.stop();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
}
