/**
 * Boots a real RadixServe cluster for the cluster tests: redis-server + nats-server (services.ts),
 * N unified workers and one or more routers, each a separate `radixserve` process
 * (packages/cli/dist/cli.js, so run after `npm run build`), all on free loopback ports, with
 * the tiny default model. Workers register in Redis and publish KV events on NATS; routers
 * discover them and follow the events. Everything is killed on stop() and at process exit.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { ensureDefaultModel } from "@radixserve/core";
import { ROOT } from "../harness/cluster.js";
import { type Service, startNats, startRedis } from "./services.js";

const CLI = join(ROOT, "packages", "cli", "dist", "cli.js");
const READY_TIMEOUT_MS = 120_000;

const live = new Set<ChildProcess>();
process.once("exit", () => {
  for (const c of live) c.kill("SIGKILL");
});
// A test process killed by a signal (a timeout, Ctrl-C) runs no "exit" hook unless it handles it.
for (const sig of ["SIGINT", "SIGTERM"] as const)
  process.once(sig, () => {
    for (const c of live) c.kill("SIGKILL");
    process.exit(128 + (sig === "SIGINT" ? 2 : 15));
  });

export interface Proc {
  readonly proc: ChildProcess;
  readonly ready: Record<string, unknown>;
  stderr(): string;
  /** SIGTERM (graceful), SIGKILL after 10 s; resolves at exit. */
  stop(): Promise<void>;
  /** SIGKILL now (a crash). */
  kill(): Promise<void>;
}

async function spawnCli(name: string, args: string[], prefix: string): Promise<Proc> {
  const proc = spawn(process.execPath, [CLI, ...args], {
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, RADIXSERVE_LOG_LEVEL: process.env["RADIXSERVE_LOG_LEVEL"] ?? "warn" },
  });
  live.add(proc);
  const exited = new Promise<void>((r) =>
    proc.once("exit", () => {
      live.delete(proc);
      r();
    }),
  );
  let err = "";
  proc.stderr!.on("data", (d: Buffer) => {
    err = (err + d.toString()).slice(-6000);
    if (process.env["RADIXSERVE_TEST_VERBOSE"]) process.stderr.write(`[${name}] ${d}`);
  });
  const ready = await new Promise<Record<string, unknown>>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`${name} not ready in ${READY_TIMEOUT_MS} ms:\n${err}`)),
      READY_TIMEOUT_MS,
    );
    createInterface({ input: proc.stdout! }).on("line", (line) => {
      if (!line.startsWith(prefix)) return;
      clearTimeout(timer);
      resolve(JSON.parse(line.slice(prefix.length)) as Record<string, unknown>);
    });
    void exited.then(() => {
      clearTimeout(timer);
      reject(new Error(`${name} exited (${proc.exitCode ?? proc.signalCode}) before ready:\n${err}`));
    });
  });
  const signal = async (sig: NodeJS.Signals, graceMs: number): Promise<void> => {
    if (proc.exitCode !== null || proc.signalCode !== null) return;
    proc.kill(sig);
    const t = setTimeout(() => proc.kill("SIGKILL"), graceMs);
    await exited;
    clearTimeout(t);
  };
  return {
    proc,
    ready,
    stderr: () => err,
    stop: () => signal("SIGTERM", 10_000),
    kill: () => signal("SIGKILL", 0),
  };
}

export interface WorkerProc extends Proc {
  readonly address: string;
  readonly metricsUrl: string;
}

export interface RouterProc extends Proc {
  readonly url: string;
}

export interface ClusterServices {
  redis: Service;
  nats: Service;
  modelPath: string;
  startWorker(extra?: string[]): Promise<WorkerProc>;
  startRouter(extra?: string[]): Promise<RouterProc>;
  stop(): Promise<void>;
}

/** Starts Redis and NATS; workers and routers are started by the test (and stopped by stop()). */
export async function startClusterServices(): Promise<ClusterServices> {
  const [redis, nats] = await Promise.all([startRedis(), startNats()]);
  const modelPath = await ensureDefaultModel(process.env["RADIXSERVE_CACHE"] ?? join(ROOT, ".cache"));
  const procs: Proc[] = [];
  return {
    redis,
    nats,
    modelPath,
    async startWorker(extra = []) {
      const p = await spawnCli(
        "worker",
        [
          "worker",
          "--model-path",
          modelPath,
          "--host",
          "127.0.0.1",
          "--port",
          "0",
          "--threads",
          "1",
          "--kv-cache-blocks",
          "512",
          "--redis-url",
          redis.url,
          "--nats-url",
          nats.url,
          "--discovery-ttl-ms",
          "1500",
          ...extra,
        ],
        "RADIXSERVE_WORKER_READY",
      );
      procs.push(p);
      const r = p.ready as { grpcPort: number; metricsPort: number };
      return {
        ...p,
        address: `127.0.0.1:${r.grpcPort}`,
        metricsUrl: `http://127.0.0.1:${r.metricsPort}/metrics`,
      };
    },
    async startRouter(extra = []) {
      const p = await spawnCli(
        "router",
        [
          "router",
          "--host",
          "127.0.0.1",
          "--port",
          "0",
          "--redis-url",
          redis.url,
          "--nats-url",
          nats.url,
          "--discovery-scan-ms",
          "200",
          ...extra,
        ],
        "RADIXSERVE_ROUTER_READY",
      );
      procs.push(p);
      return { ...p, url: `http://127.0.0.1:${(p.ready as { port: number }).port}` };
    },
    async stop() {
      await Promise.all(procs.map((p) => p.kill()));
      await Promise.all([redis.stop(), nats.stop()]);
    },
  };
}

/** A completion through the router: returns usage, or the HTTP status and body of a failure. */
export async function complete(
  routerUrl: string,
  model: string,
  prompt: number[],
  maxTokens = 2,
): Promise<{ status: number; cachedTokens: number; promptTokens: number; body: string }> {
  const res = await fetch(`${routerUrl}/v1/completions`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ model, prompt, max_tokens: maxTokens, temperature: 0, ignore_eos: true }),
  });
  const body = await res.text();
  if (res.status !== 200) return { status: res.status, cachedTokens: 0, promptTokens: 0, body };
  const j = JSON.parse(body) as {
    usage: { prompt_tokens: number; prompt_tokens_details?: { cached_tokens?: number } };
  };
  return {
    status: 200,
    cachedTokens: j.usage.prompt_tokens_details?.cached_tokens ?? 0,
    promptTokens: j.usage.prompt_tokens,
    body,
  };
}

/** Sum of the Prometheus series `name` whose labels include every pair of `labels`. */
export async function metricSum(
  url: string,
  name: string,
  labels: Record<string, string> = {},
): Promise<number> {
  const text = await (await fetch(url)).text();
  let sum = 0;
  for (const line of text.split("\n")) {
    const m = /^([a-zA-Z_:][\w:]*)(\{[^}]*\})?\s+(\S+)/.exec(line);
    if (!m || m[1] !== name) continue;
    const l = m[2] ?? "";
    if (Object.entries(labels).every(([k, v]) => l.includes(`${k}="${v}"`))) sum += Number(m[3]);
  }
  return sum;
}
