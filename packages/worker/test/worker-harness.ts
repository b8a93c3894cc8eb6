/**
 * Starts a real worker process (packages/worker/dist/main.js) and waits for its READY
 * line. Always call stop() (tests do it in `after`): it sends SIGTERM, then SIGKILL after a grace
 * period, so no process outlives the test.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { createWorkerClient, type WorkerServiceClient } from "@radixserve/core";

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
  const proc = spawn(process.execPath, [WORKER_MAIN, ...args], { stdio: ["ignore", "pipe", "pipe"] });
  let err = "";
  let out = "";
  proc.stderr!.on("data", (d: Buffer) => {
    err += d.toString();
  });
  const exited = new Promise<number | string>((resolve) =>
    proc.on("exit", (code, signal) => resolve(code ?? signal ?? "unknown")),
  );
  const ready = await new Promise<{ grpcPort: number; metricsPort: number }>((resolve, reject) => {
    const timer = setTimeout(() => {
      proc.kill("SIGKILL");
      reject(new Error(`worker not ready after ${timeoutMs} ms; stderr:\n${err}`));
    }, timeoutMs);
    proc.stdout!.on("data", (d: Buffer) => {
      out += d.toString();
      const m = /^RADIXSERVE_WORKER_READY (.*)$/m.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(JSON.parse(m[1]!) as { grpcPort: number; metricsPort: number });
      }
    });
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`worker exited (${code}) before ready; stderr:\n${err}`));
    });
  });
  const client = createWorkerClient(`127.0.0.1:${ready.grpcPort}`);
  return {
    proc,
    ...ready,
    client,
    stderr: () => err,
    exited,
    async stop() {
      client.close();
      if (proc.exitCode === null && proc.signalCode === null) {
        proc.kill("SIGTERM");
        const t = setTimeout(() => proc.kill("SIGKILL"), 10_000);
        const code = await exited;
        clearTimeout(t);
        return code;
      }
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
