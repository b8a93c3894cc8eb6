/**
 * The one cluster harness of the integration tests: boots a real unified worker and a real router
 * as separate processes through the `radixserve` CLI (packages/cli/dist/cli.js, so run after
 * `npm run build`), on free loopback ports, serving the default tiny model (made once with
 * makeModel into <repo>/.cache, or $RADIXSERVE_CACHE). It waits for both READY lines and the
 * router's /health, and always cleans up: stop() kills both, and a process exit hook kills any
 * child a crashed test left behind.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import {
  createWorkerClient,
  ensureDefaultModel,
  type GetLoadResponse__Output,
  type WorkerServiceClient,
} from "@radixserve/core";

export const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const CLI = join(ROOT, "packages", "cli", "dist", "cli.js");
const READY_TIMEOUT_MS = 120_000;

export interface ClusterOptions {
  /** Extra worker flags, e.g. ["--disable-radix-cache"]. */
  workerArgs?: string[];
  /** Extra router flags, e.g. ["--max-request-bytes", "65536"]. */
  routerArgs?: string[];
  apiKey?: string;
  modelPath?: string;
}

export interface Cluster {
  /** OpenAI base URL, e.g. http://127.0.0.1:PORT/v1 */
  baseUrl: string;
  routerUrl: string;
  workerAddress: string;
  workerMetricsUrl: string;
  modelPath: string;
  modelId: string;
  /** The worker's GetLoad over gRPC. */
  workerLoad(): Promise<GetLoadResponse__Output>;
  /** The worker's Prometheus text. */
  workerMetrics(): Promise<string>;
  /** Stops router and worker (SIGTERM, then SIGKILL after 5 s). */
  stop(): Promise<void>;
}

const live = new Set<ChildProcess>();
process.once("exit", () => {
  for (const c of live) c.kill("SIGKILL");
});

/** Spawns `radixserve <args>` and resolves with the JSON after `prefix` on its stdout. */
function spawnCli(
  name: string,
  args: string[],
  prefix: string,
): { proc: ChildProcess; ready: Promise<unknown> } {
  const proc = spawn(process.execPath, [CLI, ...args], {
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, RADIXSERVE_LOG_LEVEL: process.env["RADIXSERVE_LOG_LEVEL"] ?? "warn" },
  });
  live.add(proc);
  proc.once("exit", () => live.delete(proc));
  let stderr = "";
  proc.stderr!.on("data", (d: Buffer) => {
    stderr = (stderr + d.toString()).slice(-4000);
    if (process.env["RADIXSERVE_TEST_VERBOSE"]) process.stderr.write(`[${name}] ${d}`);
  });
  const ready = new Promise<unknown>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`${name} not ready in ${READY_TIMEOUT_MS} ms:\n${stderr}`)),
      READY_TIMEOUT_MS,
    );
    createInterface({ input: proc.stdout! }).on("line", (line) => {
      if (line.startsWith(prefix)) {
        clearTimeout(timer);
        resolve(JSON.parse(line.slice(prefix.length)));
      }
    });
    proc.once("exit", (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`${name} exited (${signal ?? code}) before it was ready:\n${stderr}`));
    });
  });
  return { proc, ready };
}

async function stopChild(proc: ChildProcess): Promise<void> {
  if (proc.exitCode !== null || proc.signalCode !== null) return;
  const exited = new Promise<void>((r) => proc.once("exit", () => r()));
  proc.kill("SIGTERM");
  const timer = setTimeout(() => proc.kill("SIGKILL"), 5000);
  await exited;
  clearTimeout(timer);
}

function unary<T>(fn: (cb: (err: Error | null, res?: T) => void) => void): Promise<T> {
  return new Promise((resolve, reject) => fn((err, res) => (err ? reject(err) : resolve(res as T))));
}

export async function startCluster(opts: ClusterOptions = {}): Promise<Cluster> {
  const modelPath =
    opts.modelPath ?? (await ensureDefaultModel(process.env["RADIXSERVE_CACHE"] ?? join(ROOT, ".cache")));
  const worker = spawnCli(
    "worker",
    [
      "worker",
      "--disagg-mode",
      "unified",
      "--model-path",
      modelPath,
      "--host",
      "127.0.0.1",
      "--port",
      "0",
      ...(opts.workerArgs ?? []),
    ],
    "RADIXSERVE_WORKER_READY",
  );
  let router: ReturnType<typeof spawnCli> | null = null;
  let client: WorkerServiceClient | null = null;
  try {
    const w = (await worker.ready) as { grpcPort: number; metricsPort: number };
    const workerAddress = `127.0.0.1:${w.grpcPort}`;
    router = spawnCli(
      "router",
      [
        "router",
        "--worker-urls",
        workerAddress,
        "--host",
        "127.0.0.1",
        "--port",
        "0",
        ...(opts.apiKey ? ["--api-key", opts.apiKey] : []),
        ...(opts.routerArgs ?? []),
      ],
      "RADIXSERVE_ROUTER_READY",
    );
    const r = (await router.ready) as { port: number };
    const routerUrl = `http://127.0.0.1:${r.port}`;
    const health = await fetch(`${routerUrl}/health`);
    if (health.status !== 200) throw new Error(`router /health answered ${health.status}`);
    const models = (await (
      await fetch(`${routerUrl}/v1/models`, {
        headers: opts.apiKey ? { authorization: `Bearer ${opts.apiKey}` } : {},
      })
    ).json()) as { data: { id: string }[] };
    const c = createWorkerClient(workerAddress);
    client = c;
    const routerProc = router.proc;
    return {
      baseUrl: `${routerUrl}/v1`,
      routerUrl,
      workerAddress,
      workerMetricsUrl: `http://127.0.0.1:${w.metricsPort}/metrics`,
      modelPath,
      modelId: models.data[0]!.id,
      workerLoad: () => unary<GetLoadResponse__Output>((cb) => c.getLoad({}, cb)),
      workerMetrics: async () => (await fetch(`http://127.0.0.1:${w.metricsPort}/metrics`)).text(),
      async stop() {
        c.close();
        await stopChild(routerProc);
        await stopChild(worker.proc);
      },
    };
  } catch (err) {
    client?.close();
    if (router) await stopChild(router.proc);
    await stopChild(worker.proc);
    throw err;
  }
}

/** The value of the first series named `name` whose labels contain every `labels` pair. */
export function metricValue(text: string, name: string, labels: Record<string, string> = {}): number | null {
  for (const line of text.split("\n")) {
    if (!line.startsWith(name)) continue;
    const m = /^([a-zA-Z_:][\w:]*)(\{[^}]*\})?\s+(\S+)/.exec(line);
    if (!m || m[1] !== name) continue;
    const labelText = m[2] ?? "";
    if (Object.entries(labels).every(([k, v]) => labelText.includes(`${k}="${v}"`))) return Number(m[3]);
  }
  return null;
}

/** Polls `check` every 50 ms until it returns true or `timeoutMs` passes; returns the last result. */
export async function waitFor(check: () => Promise<boolean>, timeoutMs: number): Promise<boolean> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return true;
    if (Date.now() > until) return false;
    await new Promise((r) => setTimeout(r, 50));
  }
}
