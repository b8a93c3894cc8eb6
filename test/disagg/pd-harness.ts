/**
 * Boots real worker processes for the disaggregation tests (unified, prefill, decode) through the
 * worker binary (packages/worker/dist/main.js; run after `npm run build`) on free loopback
 * ports, and talks to them over gRPC. Every process is killed by stop() or, at the latest, by the
 * exit hook, so no test leaves one behind.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import {
  createWorkerClient,
  ensureDefaultModel,
  type GenerateRequest,
  type GenerateResponse__Output,
  type GetLoadResponse__Output,
  type WorkerServiceClient,
} from "@radixserve/core";

export const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const WORKER_MAIN = join(ROOT, "packages", "worker", "dist", "main.js");
const CLI = join(ROOT, "packages", "cli", "dist", "cli.js");

const live = new Set<ChildProcess>();
process.once("exit", () => {
  for (const c of live) c.kill("SIGKILL");
});

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
  const proc = spawn(process.execPath, [WORKER_MAIN, "--disagg-mode", mode, "--threads", "1", ...args], {
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, RADIXSERVE_LOG_LEVEL: process.env["RADIXSERVE_LOG_LEVEL"] ?? "warn", ...env },
  });
  live.add(proc);
  const exited = new Promise<void>((r) => proc.once("exit", () => r()));
  void exited.then(() => live.delete(proc));
  let err = "";
  proc.stderr!.on("data", (d: Buffer) => {
    err = (err + d.toString()).slice(-8000);
    if (process.env["RADIXSERVE_TEST_VERBOSE"]) process.stderr.write(`[${mode}] ${d}`);
  });
  const ready = await new Promise<{ grpcPort: number; metricsPort: number }>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${mode} worker not ready:\n${err}`)), 60_000);
    createInterface({ input: proc.stdout! }).on("line", (line) => {
      const m = /^RADIXSERVE_WORKER_READY (.*)$/.exec(line);
      if (m) {
        clearTimeout(timer);
        resolve(JSON.parse(m[1]!));
      }
    });
    void exited.then(() => {
      clearTimeout(timer);
      reject(new Error(`${mode} worker exited before ready:\n${err}`));
    });
  });
  const address = `127.0.0.1:${ready.grpcPort}`;
  const client = createWorkerClient(address);
  const metricsUrl = `http://127.0.0.1:${ready.metricsPort}/metrics`;
  return {
    proc,
    address,
    metricsUrl,
    client,
    stderr: () => err,
    exited,
    load: () => new Promise((resolve, reject) => client.getLoad({}, (e, r) => (e ? reject(e) : resolve(r!)))),
    metrics: async () => (await fetch(metricsUrl)).text(),
    async stop() {
      client.close();
      if (proc.exitCode !== null || proc.signalCode !== null) return;
      proc.kill("SIGCONT");
      proc.kill("SIGTERM");
      const t = setTimeout(() => proc.kill("SIGKILL"), 5000);
      await exited;
      clearTimeout(t);
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

/** The value of series `name` whose labels include every pair (sum over matches; 0 when none). */
export function metricSum(text: string, name: string, labels: Record<string, string> = {}): number {
  let sum = 0;
  for (const line of text.split("\n")) {
    const m = /^([a-zA-Z_:][\w:]*)(\{[^}]*\})?\s+(\S+)/.exec(line);
    if (!m || m[1] !== name) continue;
    const l = m[2] ?? "";
    if (Object.entries(labels).every(([k, v]) => l.includes(`${k}="${v}"`))) sum += Number(m[3]);
  }
  return sum;
}

/** Polls until `check` holds or `timeoutMs` passes. */
export async function waitFor(check: () => Promise<boolean>, timeoutMs: number): Promise<boolean> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return true;
    if (Date.now() > until) return false;
    await new Promise((r) => setTimeout(r, 50));
  }
}

export interface RouterProc {
  proc: ChildProcess;
  baseUrl: string;
  stderr(): string;
  stop(): Promise<void>;
}

/** Starts `radixserve router --worker-urls ...` (prefill and decode workers mixed: the router pairs them). */
export async function startRouter(workerUrls: string[], args: string[] = []): Promise<RouterProc> {
  const proc = spawn(
    process.execPath,
    [CLI, "router", "--worker-urls", workerUrls.join(","), "--host", "127.0.0.1", "--port", "0", ...args],
    {
      stdio: ["ignore", "pipe", "pipe"],
      env: { ...process.env, RADIXSERVE_LOG_LEVEL: process.env["RADIXSERVE_LOG_LEVEL"] ?? "warn" },
    },
  );
  live.add(proc);
  const exited = new Promise<void>((r) => proc.once("exit", () => r()));
  void exited.then(() => live.delete(proc));
  let err = "";
  proc.stderr!.on("data", (d: Buffer) => {
    err = (err + d.toString()).slice(-8000);
    if (process.env["RADIXSERVE_TEST_VERBOSE"]) process.stderr.write(`[router] ${d}`);
  });
  const ready = await new Promise<{ port: number }>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`router not ready:\n${err}`)), 60_000);
    createInterface({ input: proc.stdout! }).on("line", (line) => {
      const m = /^RADIXSERVE_ROUTER_READY (.*)$/.exec(line);
      if (m) {
        clearTimeout(timer);
        resolve(JSON.parse(m[1]!));
      }
    });
    void exited.then(() => {
      clearTimeout(timer);
      reject(new Error(`router exited before ready:\n${err}`));
    });
  });
  return {
    proc,
    baseUrl: `http://127.0.0.1:${ready.port}/v1`,
    stderr: () => err,
    async stop() {
      if (proc.exitCode !== null || proc.signalCode !== null) return;
      proc.kill("SIGTERM");
      const t = setTimeout(() => proc.kill("SIGKILL"), 5000);
      await exited;
      clearTimeout(t);
    },
  };
}
