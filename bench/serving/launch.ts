/**
 * `--launch`: starts a local cluster with the `radixserve start` launcher (router + one unified
 * worker; the tiny model unless --model-path) on a free port, and stops it afterwards.
 */
import { spawn } from "node:child_process";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const CLI = join(ROOT, "packages", "cli", "dist", "cli.js");

export interface Launched {
  baseUrl: string;
  /** Each worker's /metrics. */
  workerMetricsUrls: string[];
  stop(): Promise<void>;
}

export async function launchCluster(args: string[]): Promise<Launched> {
  const proc = spawn(process.execPath, [CLI, "start", "--port", "0", ...args], {
    stdio: ["ignore", "pipe", "inherit"],
    env: {
      ...process.env,
      RADIXSERVE_CACHE: process.env["RADIXSERVE_CACHE"] ?? join(ROOT, ".cache"),
      RADIXSERVE_LOG_LEVEL: process.env["RADIXSERVE_LOG_LEVEL"] ?? "warn",
    },
  });
  const exited = new Promise<void>((r) => proc.once("exit", () => r()));
  const ready = await new Promise<{ baseUrl: string; workerMetricsUrls: string[] }>((resolve, reject) => {
    createInterface({ input: proc.stdout! }).on("line", (line) => {
      if (line.startsWith("RADIXSERVE_READY ")) resolve(JSON.parse(line.slice(17)));
    });
    void exited.then(() => reject(new Error("the launcher exited before it was ready")));
  });
  return {
    baseUrl: ready.baseUrl,
    workerMetricsUrls: ready.workerMetricsUrls,
    async stop() {
      proc.kill("SIGTERM");
      const timer = setTimeout(() => proc.kill("SIGKILL"), 15_000);
      await exited;
      clearTimeout(timer);
    },
  };
}
