/**
 * Boots real worker processes for the disaggregation tests (unified, prefill, decode) through the
 * worker binary (packages/worker/dist/main.js; run after `npm run build`) on free loopback
 * ports, and talks to them over gRPC. Every process is killed by stop() or, at the latest, by the
 * exit hook, so no test leaves one behind.
 */
import type { ChildProcess } from "node:child_process";
import { join } from "node:path";
import {
  createWorkerClient,
  ensureDefaultModel,
  type GenerateRequest,
  type GenerateResponse__Output,
  type GetLoadResponse__Output,
  ROUTER_READY_PREFIX,
  WORKER_READY_PREFIX,
  type WorkerServiceClient,
} from "@radixserve/core";
import { CLI_PATH, metricSum, REPO_ROOT, spawnReady, WORKER_MAIN_PATH, waitFor } from "@radixserve/testkit";

export const ROOT = REPO_ROOT;
export { metricSum, waitFor };

export interface WorkerProc {
  proc: ChildProcess;
  address: string;
  metricsUrl: string;
  client: WorkerServiceClient;
  stderr(): string;
  exited: Promise<void>;
  load(): Promise<GetLoadResponse__Output>;
  metrics(): Promise<string>;
  stop(): Promise<void>;
  kill9(): void;
}

export function defaultModel(): Promise<string> {
  return ensureDefaultModel(process.env["RADIXSERVE_CACHE"] ?? join(ROOT, ".cache"));
}

export async function startWorker(
  mode: "unified" | "prefill" | "decode",
  args: string[],
  env: Record<string, string> = {},
): Promise<WorkerProc> {
  const w = await spawnReady<{ grpcPort: number; metricsPort: number }>({
    name: `${mode} worker`,
    argv: [WORKER_MAIN_PATH, "--disagg-mode", mode, "--threads", "1", ...args],
    prefix: WORKER_READY_PREFIX,
    env,
    timeoutMs: 60_000,
  });
  const { proc, ready } = w;
  const address = `127.0.0.1:${ready.grpcPort}`;
  const client = createWorkerClient(address);
  const metricsUrl = `http://127.0.0.1:${ready.metricsPort}/metrics`;
  return {
    proc,
    address,
    metricsUrl,
    client,
    stderr: w.stderr,
    exited: w.exited,
    load: () => new Promise((resolve, reject) => client.getLoad({}, (e, r) => (e ? reject(e) : resolve(r!)))),
    metrics: async () => (await fetch(metricsUrl)).text(),
    async stop() {
      client.close();
      await w.stop();
    },
    kill9() {
      proc.kill("SIGKILL");
    },
  };
}

export interface GenerateResult {
  tokens: number[];
  finish: string | null;
  error: { code: string; message: string } | null;
  cachedTokens: number;
}

/** Runs Generate to its end; `onToken` sees each token as it arrives. */
export async function generate(
  client: WorkerServiceClient,
  req: GenerateRequest,
  onToken?: (n: number) => void,
): Promise<GenerateResult> {
  const out: GenerateResult = { tokens: [], finish: null, error: null, cachedTokens: 0 };
  const call = client.generate(req);
  try {
    for await (const ev of call as AsyncIterable<GenerateResponse__Output>) {
      if (ev.event === "token" && ev.token) {
        out.tokens.push(ev.token.tokenId);
        onToken?.(out.tokens.length);
      } else if (ev.event === "finished" && ev.finished) {
        out.finish = ev.finished.reason;
        out.cachedTokens = ev.finished.usage?.cachedTokens ?? 0;
      } else if (ev.event === "error" && ev.error)
        out.error = { code: ev.error.code, message: ev.error.message };
    }
  } catch (err) {
    // A refused request ends with its WorkerError event, then a non-OK status: keep the event's code.
    out.error ??= { code: `grpc_${(err as { code?: number }).code ?? "?"}`, message: (err as Error).message };
  }
  return out;
}

let nextId = 0;
export function greedyRequest(
  inputIds: number[],
  maxNewTokens: number,
  prefillAddress = "",
): GenerateRequest {
  return {
    requestId: `r-${process.pid}-${++nextId}`,
    inputIds,
    sampling: { temperature: 0, maxNewTokens, ignoreEos: true },
    prefillAddress,
  };
}

export function prompt(n: number, salt: number): number[] {
  return Array.from({ length: n }, (_, i) => 3 + ((i * 131 + salt * 7919) % 30000));
}

export interface RouterProc {
  proc: ChildProcess;
  baseUrl: string;
  stderr(): string;
  stop(): Promise<void>;
}

/** Starts `radixserve router --worker-urls ...` (prefill and decode workers mixed: the router pairs them). */
export async function startRouter(workerUrls: string[], args: string[] = []): Promise<RouterProc> {
  const r = await spawnReady<{ port: number }>({
    name: "router",
    argv: [
      CLI_PATH,
      "router",
      "--worker-urls",
      workerUrls.join(","),
      "--host",
      "127.0.0.1",
      "--port",
      "0",
      ...args,
    ],
    prefix: ROUTER_READY_PREFIX,
    timeoutMs: 60_000,
  });
  return {
    proc: r.proc,
    baseUrl: `http://127.0.0.1:${r.ready.port}/v1`,
    stderr: r.stderr,
    stop: () => r.stop(),
  };
}
