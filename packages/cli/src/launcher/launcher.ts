/**
 * `radixserve start`: one machine, no services. Starts the workers and the router as separate
 * child processes on loopback: by default a disaggregated cluster (--num-prefill prefill workers,
 * default 1, and --num-decode decode workers, default 1; the router pairs them per request), or
 * one unified worker with `--disagg-mode unified`. It waits until all are ready, prints the OpenAI
 * base URL and a ready line, and supervises them: Ctrl-C / SIGTERM stops every child; a child that
 * dies is reported (name, exit code or signal) and the launcher stops the rest and exits non-zero.
 *
 * The model is resolved once here (resolveModelPath) and the workers get its local path: with no
 * --model-path the default SmolLM2-135M-Instruct GGUF, fetched once into the cache folder (the tiny
 * random model when it cannot be had, with one line saying why); `org/name` is downloaded from the
 * Hugging Face Hub (--revision). Worker flags (--tp, --mem-fraction-static, --max-running-requests,
 * --chunked-prefill-size, ...) pass through to the worker untouched.
 */
import { request } from "node:http";
import { fileURLToPath } from "node:url";
import {
  LAUNCHER_READY_PREFIX,
  type LaunchDisaggMode,
  ROUTER_READY_PREFIX,
  resolveModelPath,
  WORKER_READY_PREFIX,
} from "@radixserve/core";
import { API_KEY_ENV } from "../api-key.js";
import { type SupervisedChild as Child, describeExit, SupervisedChild } from "./child-process.js";

export interface LaunchOptions {
  modelPath?: string | undefined;
  /** Hub revision for an org/name --model-path. */
  revision?: string | undefined;
  host: string;
  port: number;
  apiKey?: string | undefined;
  /** Extra router flags (already validated by the CLI), e.g. ["--max-request-bytes", "1000"]. */
  routerArgs: string[];
  /** Flags forwarded to every worker as they were given. */
  workerArgs: string[];
  /** "pd" (default): prefill + decode workers; "unified": one unified worker. */
  disaggMode?: LaunchDisaggMode | undefined;
  /** PD: prefill and decode worker counts (default 1 each). */
  numPrefill?: number | undefined;
  numDecode?: number | undefined;
  cacheDir?: string | undefined;
  readyTimeoutMs?: number;
}

const CLI = fileURLToPath(new URL("../cli.js", import.meta.url));

function say(msg: string): void {
  process.stderr.write(`[radixserve] ${msg}\n`);
}

function httpOk(url: string): Promise<boolean> {
  return new Promise((resolve) => {
    const req = request(url, { timeout: 2000 }, (res) => {
      res.resume();
      resolve(res.statusCode === 200);
    });
    req.on("error", () => resolve(false));
    req.on("timeout", () => req.destroy());
    req.end();
  });
}

async function waitHealthy(url: string, timeoutMs: number, child: Child): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    if (!child.running) throw new Error(`${child.name} exited before it was healthy`);
    if (await httpOk(url)) return;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`${url} was not healthy within ${timeoutMs / 1000} s`);
}

/** Runs the cluster until a signal or a child's death; resolves with the process exit code. */
export async function launch(opts: LaunchOptions): Promise<number> {
  const timeout = opts.readyTimeoutMs ?? 300_000;
  const children: SupervisedChild[] = [];
  let stopping = false;
  const stopAll = async () => {
    stopping = true;
    await Promise.all(children.map((c) => c.stop()));
  };
  const onSignal = (sig: NodeJS.Signals) => {
    if (stopping) return;
    say(`${sig}: stopping every process`);
    void stopAll().then(() => process.exit(0));
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);

  try {
    const resolved = await resolveModelPath(opts.modelPath, {
      cacheDir: opts.cacheDir,
      revision: opts.revision,
      log: say,
    });
    const modelPath = resolved.path;
    say(`model: ${modelPath}`);
    const nameArgs =
      resolved.servedModelName !== undefined &&
      !opts.workerArgs.some((a) => a.startsWith("--served-model-name"))
        ? ["--served-model-name", resolved.servedModelName]
        : [];

    // One unified worker, or the disaggregated set (decode workers first: the first is `worker`).
    const roles: ("unified" | "prefill" | "decode")[] =
      opts.disaggMode === "unified"
        ? ["unified"]
        : [
            ...Array<"decode">(opts.numDecode ?? 1).fill("decode"),
            ...Array<"prefill">(opts.numPrefill ?? 1).fill("prefill"),
          ];
    // Every worker on this host sizes its KV pool from the same free memory, and the radix cache
    // eventually fills its pool: share the default budget (0.5) between them unless the user sized it.
    const sized = opts.workerArgs.some(
      (a) => a.startsWith("--mem-fraction-static") || a.startsWith("--kv-cache-blocks"),
    );
    const memArgs =
      roles.length > 1 && !sized ? ["--mem-fraction-static", (0.5 / roles.length).toFixed(3)] : [];
    const count = { unified: 0, prefill: 0, decode: 0 };
    const workers = roles.map((role) => {
      const i = count[role]++;
      const child = new SupervisedChild(
        role === "unified" ? "worker" : `${role}-${i} worker`,
        process.execPath,
        [
          CLI,
          "worker",
          "--disagg-mode",
          role,
          "--model-path",
          modelPath,
          "--host",
          "127.0.0.1",
          "--port",
          "0",
          ...memArgs,
          ...nameArgs,
          ...(role === "prefill" ? withoutDecodeOnlyFlags(opts.workerArgs) : opts.workerArgs),
        ],
      );
      children.push(child);
      return { child, key: role === "unified" ? null : `${role}-${i}` };
    });
    const readies = await Promise.all(
      workers.map(async ({ child }) => {
        const ready = JSON.parse(await child.waitForLine(WORKER_READY_PREFIX, timeout)) as {
          grpcPort: number;
          metricsPort: number;
        };
        say(`${child.name} ready on 127.0.0.1:${ready.grpcPort}`);
        return ready;
      }),
    );
    const ports = readies.map((r) => `127.0.0.1:${r.grpcPort}`);

    const routerArgs = [
      CLI,
      "router",
      "--worker-urls",
      ports.join(","),
      "--host",
      opts.host,
      "--port",
      String(opts.port),
      ...opts.routerArgs,
    ];
    // The key travels in the child's environment, never on its command line (ps shows argv).
    const routerEnv = { ...process.env, ...(opts.apiKey ? { [API_KEY_ENV]: opts.apiKey } : {}) };
    const router = new SupervisedChild("router", process.execPath, routerArgs, routerEnv);
    children.push(router);
    const r = JSON.parse(await router.waitForLine(ROUTER_READY_PREFIX, timeout)) as { port: number };
    const shownHost = opts.host === "0.0.0.0" || opts.host === "::" ? "127.0.0.1" : opts.host;
    const base = `http://${shownHost}:${r.port}`;
    await waitHealthy(`${base}/health`, timeout, router);

    process.stdout.write(`OpenAI base URL: ${base}/v1\n`);
    // `worker` is the first worker the router sends requests to (the unified or first decode one).
    const pids: Record<string, number | undefined> = {
      worker: workers[0]!.child.proc.pid,
      router: router.proc.pid,
    };
    for (const w of workers) if (w.key) pids[w.key] = w.child.proc.pid;
    // Each worker's /metrics (benchmarks read the step profile there), in worker order.
    const workerMetricsUrls = readies.map((w) => `http://127.0.0.1:${w.metricsPort}/metrics`);
    process.stdout.write(
      `${LAUNCHER_READY_PREFIX} ${JSON.stringify({ baseUrl: `${base}/v1`, port: r.port, pids, workerMetricsUrls })}\n`,
    );
    say("ready (Ctrl-C stops every process)");

    const first = await Promise.race(children.map((c) => c.exited));
    if (stopping) return 0;
    say(`${first.name} exited unexpectedly (${describeExit(first)}); stopping the rest`);
    await stopAll();
    return 1;
  } catch (err) {
    if (stopping) return 0;
    say(`start failed: ${err instanceof Error ? err.message : String(err)}`);
    await stopAll();
    return 1;
  } finally {
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
  }
}

/** Worker flags only a decoding worker takes (a prefill worker refuses them): `start` gives them to decode and unified workers. */
const DECODE_ONLY_FLAGS = [
  "--speculative-algorithm",
  "--speculative-num-draft-tokens",
  "--speculative-max-batch-size",
];

/** `args` without the decode-only flags (and their values, as `--flag v` or `--flag=v`). */
export function withoutDecodeOnlyFlags(args: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (DECODE_ONLY_FLAGS.includes(a)) {
      i++; // its value
      continue;
    }
    if (DECODE_ONLY_FLAGS.some((f) => a.startsWith(`${f}=`))) continue;
    out.push(a);
  }
  return out;
}
