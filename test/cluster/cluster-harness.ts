/**
 * Boots a real RadixServe cluster for the cluster tests: redis-server + nats-server (services.ts),
 * N unified workers and one or more routers, each a separate `radixserve` process
 * (packages/cli/dist/cli.js, so run after `npm run build`), all on free loopback ports, with
 * the tiny default model. Workers register in Redis and publish KV events on NATS; routers
 * discover them and follow the events. Everything is killed on stop() and at process exit.
 */
import type { ChildProcess } from "node:child_process";
import { join } from "node:path";
import { ensureDefaultModel, ROUTER_READY_PREFIX, WORKER_READY_PREFIX } from "@radixserve/core";
import { CLI_PATH, metricSum as metricSumOf, spawnReady } from "@radixserve/testkit";
import { ROOT } from "../harness/cluster.js";
import { type Service, startNats, startRedis } from "./services.js";

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
  const p = await spawnReady({ name, argv: [CLI_PATH, ...args], prefix });
  return {
    proc: p.proc,
    ready: p.ready,
    stderr: p.stderr,
    stop: () => p.stop("SIGTERM", 10_000),
    kill: () => p.stop("SIGKILL", 0),
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
        WORKER_READY_PREFIX,
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
        ROUTER_READY_PREFIX,
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
  return metricSumOf(await (await fetch(url)).text(), name, labels);
}

/** The model a router serves (the first entry of its /v1/models). */
export async function servedModel(routerUrl: string): Promise<string> {
  const models = (await (await fetch(`${routerUrl}/v1/models`)).json()) as { data: { id: string }[] };
  return models.data[0]!.id;
}

/** A router's /health: how many workers it knows and how many of them are healthy. */
export async function routerHealth(
  routerUrl: string,
): Promise<{ workers?: number; workers_healthy?: number }> {
  return (await (await fetch(`${routerUrl}/health`)).json()) as {
    workers?: number;
    workers_healthy?: number;
  };
}
