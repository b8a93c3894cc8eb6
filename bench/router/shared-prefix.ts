// Cluster routing benchmark: the generated-shared-prefix workload against N unified workers (tiny
// model) behind one router, once per routing policy, plus a single-worker baseline. Prints, per
// policy: cluster cache hit rate (cached / prompt tokens, as the workers report), its ratio to the
// single worker's, request throughput and its ratio to round_robin. Validated first: every request
// must succeed with exactly the asked output tokens. Printed, never asserted.
//
//   node --import tsx bench/router/shared-prefix.ts [--workers 4] [--groups 16] [--prompts-per-group 8]
//        [--system-len 1024] [--question-len 32] [--output-len 4] [--concurrency 8]
//        [--policies cache_aware,kv_cost,round_robin,random] [--threads 1] [--kv-cache-blocks 1024]
//        [--no-single] [--json]
//
// Workers are separate processes on loopback with --threads each; on a 2-core machine 4 workers
// share the cores, so throughput ratios (not absolute numbers) are the result.
import { type ChildProcess, spawn } from "node:child_process";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { ensureDefaultModel } from "@radixserve/core";
import { streamCompletion, type Target } from "../serving/stream-client.js";
import { type BenchRequest, sharedPrefixWorkload } from "../serving/workloads.js";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const CLI = join(ROOT, "packages", "cli", "dist", "cli.js");

const { values: a } = parseArgs({
  options: {
    workers: { type: "string", default: "4" },
    groups: { type: "string", default: "16" },
    "prompts-per-group": { type: "string", default: "8" },
    "system-len": { type: "string", default: "1024" },
    "question-len": { type: "string", default: "32" },
    "output-len": { type: "string", default: "4" },
    concurrency: { type: "string", default: "8" },
    policies: { type: "string", default: "cache_aware,kv_cost,round_robin,random" },
    threads: { type: "string", default: "1" },
    "kv-cache-blocks": { type: "string", default: "1024" },
    "no-single": { type: "boolean", default: false },
    json: { type: "boolean", default: false },
  },
});

function int(name: string): number {
  const v = (a as Record<string, unknown>)[name];
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) {
    process.stderr.write(
      `bench/router/shared-prefix: --${name} must be a positive integer, got '${String(v)}'\n`,
    );
    process.exit(2);
  }
  return n;
}

const WORKERS = int("workers");
const CONCURRENCY = int("concurrency");
const env = {
  ...process.env,
  RADIXSERVE_CACHE: process.env["RADIXSERVE_CACHE"] ?? join(ROOT, ".cache"),
  RADIXSERVE_LOG_LEVEL: process.env["RADIXSERVE_LOG_LEVEL"] ?? "warn",
};
const children = new Set<ChildProcess>();
process.once("exit", () => {
  for (const c of children) c.kill("SIGKILL");
});

async function spawnReady(
  args: string[],
  prefix: string,
): Promise<{ proc: ChildProcess; ready: Record<string, number> }> {
  const proc = spawn(process.execPath, [CLI, ...args], { env, stdio: ["ignore", "pipe", "inherit"] });
  children.add(proc);
  proc.once("exit", () => children.delete(proc));
  const ready = await new Promise<Record<string, number>>((resolve, reject) => {
    createInterface({ input: proc.stdout! }).on("line", (line) => {
      if (line.startsWith(prefix)) resolve(JSON.parse(line.slice(prefix.length)) as Record<string, number>);
    });
    proc.once("exit", (code) => reject(new Error(`${args[0]} exited (${code}) before it was ready`)));
  });
  return { proc, ready };
}

async function stopAll(procs: ChildProcess[]): Promise<void> {
  await Promise.all(
    procs.map(
      (p) =>
        new Promise<void>((r) => {
          if (p.exitCode !== null || p.signalCode !== null) return r();
          p.once("exit", () => r());
          p.kill("SIGKILL");
        }),
    ),
  );
}

interface RunResult {
  policy: string;
  workers: number;
  requests: number;
  hitRate: number;
  seconds: number;
  reqPerS: number;
}

async function runPolicy(
  modelPath: string,
  workers: number,
  policy: string,
  work: BenchRequest[],
): Promise<RunResult> {
  const ws = await Promise.all(
    Array.from({ length: workers }, () =>
      spawnReady(
        [
          "worker",
          "--model-path",
          modelPath,
          "--port",
          "0",
          "--threads",
          a.threads!,
          "--kv-cache-blocks",
          a["kv-cache-blocks"]!,
          "--log-level",
          "warn",
        ],
        "RADIXSERVE_WORKER_READY ",
      ),
    ),
  );
  const urls = ws.map((w) => `127.0.0.1:${w.ready["grpcPort"]}`).join(",");
  const router = await spawnReady(
    ["router", "--worker-urls", urls, "--port", "0", "--policy", policy],
    "RADIXSERVE_ROUTER_READY ",
  );
  try {
    const baseUrl = `http://127.0.0.1:${router.ready["port"]}/v1`;
    const models = (await (await fetch(`${baseUrl}/models`)).json()) as { data: { id: string }[] };
    const target: Target = { baseUrl, model: models.data[0]!.id, backend: "radixserve" };
    let next = 0;
    let prompt = 0;
    let cached = 0;
    const t0 = performance.now();
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        while (next < work.length) {
          const r = work[next++]!;
          const res = await streamCompletion(target, r.promptIds, r.outputLen);
          if (!res.ok || res.completionTokens !== r.outputLen)
            throw new Error(
              `bench invalid (${policy}): ${res.error ?? `${res.completionTokens} tokens, want ${r.outputLen}`}`,
            );
          prompt += res.promptTokens;
          cached += res.cachedTokens;
        }
      }),
    );
    const seconds = (performance.now() - t0) / 1000;
    return {
      policy,
      workers,
      requests: work.length,
      hitRate: cached / prompt,
      seconds,
      reqPerS: work.length / seconds,
    };
  } finally {
    await stopAll([router.proc, ...ws.map((w) => w.proc)]);
  }
}

const modelPath = await ensureDefaultModel(env.RADIXSERVE_CACHE);
const work = sharedPrefixWorkload({
  groups: int("groups"),
  promptsPerGroup: int("prompts-per-group"),
  systemLen: int("system-len"),
  questionLen: int("question-len"),
  outputLen: int("output-len"),
  range: { lo: 10, hi: 500 },
  seed: 1,
});
const results: RunResult[] = [];
if (!a["no-single"])
  results.push({ ...(await runPolicy(modelPath, 1, "round_robin", work)), policy: "single_worker" });
for (const p of a.policies!.split(",")) results.push(await runPolicy(modelPath, WORKERS, p.trim(), work));
const single = results.find((r) => r.policy === "single_worker");
const rr = results.find((r) => r.policy === "round_robin");
if (a.json) process.stdout.write(`${JSON.stringify(results, null, 2)}\n`);
else {
  process.stdout.write(
    `generated-shared-prefix: ${int("groups")} groups x ${int("prompts-per-group")} prompts, system ${int("system-len")} + question ${int("question-len")} tokens, output ${int("output-len")}, concurrency ${CONCURRENCY}, ${WORKERS} workers x ${a.threads} thread(s)\n`,
  );
  for (const r of results)
    process.stdout.write(
      `  ${r.policy.padEnd(14)} workers ${r.workers}  hit rate ${(100 * r.hitRate).toFixed(1)}%${single ? ` (${(r.hitRate / single.hitRate).toFixed(2)}x single)` : ""}  ${r.reqPerS.toFixed(2)} req/s${rr ? ` (${(r.reqPerS / rr.reqPerS).toFixed(2)}x round_robin)` : ""}  ${r.seconds.toFixed(1)} s\n`,
    );
}
