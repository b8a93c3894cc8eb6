// Serving benchmark, in the spirit of SGLang's bench_serving: sends a workload of streamed
// /v1/completions requests (token-id prompts, ignore_eos, greedy) at a request rate or a maximum
// concurrency, and prints request and token throughput, TTFT / inter-token / end-to-end latency
// (mean, p50, p99) and the prefix-cache hit rate (cached / prompt tokens, as the server reports).
// Results are validated (every request must return exactly the asked tokens) before they are
// reported; timings are printed, never asserted.
//
//   node --import tsx bench/serving/main.ts --base-url http://127.0.0.1:30000/v1 [options]
//   node --import tsx bench/serving/main.ts --launch [--disable-radix-cache] [--launch-args="--kv-cache-blocks 2048"] [options]
//   options: --workload random|generated-shared-prefix --num-prompts N --random-input-len N
//            --random-output-len N --random-range-ratio R --gsp-num-groups N --gsp-prompts-per-group N
//            --gsp-system-prompt-len N --gsp-question-len N --gsp-output-len N
//            --request-rate R (default inf) --max-concurrency N --seed N --api-key K --model M --json [FILE]
//            --worker-metrics URL[,URL] (workers' /metrics; --launch finds them itself): prints the
//            workers' step profile over the run (steps, tokens per step, prefill/decode mix, shares
//            of idle / schedule / engine / post-processing time)
import { writeFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { loadTokenizer } from "@radixserve/core";
import cliProgress from "cli-progress";
import { launchCluster } from "./launch.js";
import { dist } from "./stats.js";
import { scrapeSteps, stepProfile } from "./step-profile.js";
import { failureCause, type RequestResult, streamCompletion, type Target } from "./stream-client.js";
import {
  type BenchRequest,
  randomWorkload,
  rng,
  sharedPrefixWorkload,
  type TokenRange,
} from "./workloads.js";

function parse() {
  try {
    return parseArgs({ options: OPTIONS }).values;
  } catch (err) {
    process.stderr.write(`bench/serving: ${(err as Error).message.split("\n")[0]}\n`);
    process.exit(2);
  }
}

const OPTIONS = {
  "base-url": { type: "string" },
  launch: { type: "boolean", default: false },
  "launch-args": { type: "string", default: "" },
  "worker-metrics": { type: "string" },
  backend: { type: "string", default: "radixserve" },
  "tokenizer-path": { type: "string" },
  "disable-radix-cache": { type: "boolean", default: false },
  model: { type: "string" },
  "api-key": { type: "string" },
  workload: { type: "string", default: "random" },
  "num-prompts": { type: "string", default: "64" },
  "random-input-len": { type: "string", default: "256" },
  "random-output-len": { type: "string", default: "64" },
  "random-range-ratio": { type: "string", default: "1" },
  "gsp-num-groups": { type: "string", default: "4" },
  "gsp-prompts-per-group": { type: "string", default: "16" },
  "gsp-system-prompt-len": { type: "string", default: "512" },
  "gsp-question-len": { type: "string", default: "32" },
  "gsp-output-len": { type: "string", default: "32" },
  "request-rate": { type: "string", default: "inf" },
  "max-concurrency": { type: "string" },
  seed: { type: "string", default: "1" },
  json: { type: "string" },
  "json-stdout": { type: "boolean", default: false },
} as const;
const a = parse();

function num(name: string, min: number): number {
  const v = Number(a[name as keyof typeof a]);
  if (!Number.isFinite(v) || v < min) {
    process.stderr.write(`bench/serving: --${name} must be a number >= ${min}\n`);
    process.exit(2);
  }
  return v;
}

function die(msg: string): never {
  process.stderr.write(`bench/serving: ${msg}\n`);
  process.exit(2);
}

async function tokenRange(root: string | undefined): Promise<TokenRange> {
  // Ids below 300 are special and byte-fallback tokens in Llama-style vocabularies: avoid them so
  // prompts decode to ordinary text.
  if (root) {
    try {
      const tok = await loadTokenizer(root);
      return { lo: 300, hi: tok.vocabSize - 1 };
    } catch {
      // The server's model directory is not readable here (remote server): use a safe range.
    }
  }
  return { lo: 300, hi: 30000 };
}

function buildWorkload(range: TokenRange): BenchRequest[] {
  const seed = num("seed", 0);
  if (a.workload === "random") {
    return randomWorkload({
      numPrompts: num("num-prompts", 1),
      inputLen: num("random-input-len", 1),
      outputLen: num("random-output-len", 1),
      rangeRatio: Math.min(1, num("random-range-ratio", 0)),
      range,
      seed,
    });
  }
  if (a.workload === "generated-shared-prefix") {
    return sharedPrefixWorkload({
      groups: num("gsp-num-groups", 1),
      promptsPerGroup: num("gsp-prompts-per-group", 1),
      systemLen: num("gsp-system-prompt-len", 1),
      questionLen: num("gsp-question-len", 1),
      outputLen: num("gsp-output-len", 1),
      range,
      seed,
    });
  }
  return die(`unknown --workload '${a.workload}': use random or generated-shared-prefix`);
}

/** Runs every request, honouring the request rate (Poisson arrivals) and the concurrency cap. */
async function run(target: Target, reqs: BenchRequest[], rate: number, maxConcurrency: number) {
  const bar = new cliProgress.SingleBar(
    {
      format: "{bar} {value}/{total} requests",
      stream: process.stderr,
      noTTYOutput: true,
      notTTYSchedule: 5000,
    },
    cliProgress.Presets.shades_classic,
  );
  bar.start(reqs.length, 0);
  const rand = rng(num("seed", 0) + 7);
  let inFlight = 0;
  const waiters: (() => void)[] = [];
  const acquire = async () => {
    while (inFlight >= maxConcurrency) await new Promise<void>((r) => waiters.push(r));
    inFlight++;
  };
  const release = () => {
    inFlight--;
    waiters.shift()?.();
  };
  const t0 = performance.now();
  const tasks: Promise<RequestResult>[] = [];
  for (const r of reqs) {
    await acquire();
    tasks.push(
      streamCompletion(target, r.promptIds, r.outputLen).then((res) => {
        release();
        bar.increment();
        return res;
      }),
    );
    if (Number.isFinite(rate))
      await new Promise((res) => setTimeout(res, (-Math.log(1 - rand()) / rate) * 1000));
  }
  const results = await Promise.all(tasks);
  const seconds = (performance.now() - t0) / 1000;
  bar.stop();
  return { results, seconds };
}

function fmt(v: number, digits = 2): string {
  return Number.isFinite(v) ? v.toFixed(digits) : "n/a";
}

async function main(): Promise<void> {
  if (!a["base-url"] && !a.launch) die("give --base-url URL or --launch");
  const launchArgs = a["launch-args"].split(/\s+/).filter((s) => s.length > 0);
  if (a["disable-radix-cache"]) launchArgs.push("--disable-radix-cache");
  const launched = a.launch ? await launchCluster(launchArgs) : null;
  try {
    const baseUrl = (launched?.baseUrl ?? a["base-url"]!).replace(/\/$/, "");
    const headers: Record<string, string> = a["api-key"] ? { authorization: `Bearer ${a["api-key"]}` } : {};
    const models = (await (await fetch(`${baseUrl}/models`, { headers })).json()) as {
      data: { id: string; root?: string }[];
    };
    const served = models.data[0];
    if (!served) die("the server lists no model");
    const backend = a.backend;
    if (backend !== "radixserve" && backend !== "llama-cpp") die("--backend must be radixserve or llama-cpp");
    const tokenizerPath = a["tokenizer-path"] ?? served.root;
    const tokenizer = tokenizerPath ? await loadTokenizer(tokenizerPath).catch(() => null) : null;
    if (backend === "llama-cpp" && !tokenizer)
      die("--backend llama-cpp needs --tokenizer-path (the model's HF directory)");
    const target: Target = {
      baseUrl,
      model: a.model ?? served.id,
      apiKey: a["api-key"],
      backend,
      decode: (ids) => tokenizer!.decode(ids, { skipSpecialTokens: true }),
    };
    const reqs = buildWorkload(await tokenRange(tokenizerPath));

    const rate = a["request-rate"] === "inf" ? Number.POSITIVE_INFINITY : num("request-rate", 0.001);
    const maxConcurrency = a["max-concurrency"] === undefined ? reqs.length : num("max-concurrency", 1);

    // Validate before timing: one request must come back whole (exact token counts).
    // Its prompt shares nothing with the workload, so it does not warm the prefix cache.
    const range = await tokenRange(tokenizerPath);
    const probe = randomWorkload({
      numPrompts: 1,
      inputLen: 16,
      outputLen: 4,
      rangeRatio: 1,
      range,
      seed: 999_983,
    })[0]!;
    const warm = await streamCompletion(target, probe.promptIds, 4);
    if (!warm.ok || warm.completionTokens !== 4 || warm.promptTokens !== 16)
      die(`warm-up request is wrong: ${JSON.stringify(warm)}`);

    const metricsUrls =
      launched?.workerMetricsUrls ?? (a["worker-metrics"] ? a["worker-metrics"].split(",") : []);
    const stepsBefore = metricsUrls.length > 0 ? await scrapeSteps(metricsUrls) : null;
    const { results, seconds } = await run(target, reqs, rate, maxConcurrency);
    const profile = stepsBefore ? stepProfile(stepsBefore, await scrapeSteps(metricsUrls)) : null;
    const bad = results
      .map((r, i) => ({ r, want: reqs[i]! }))
      .filter(
        ({ r, want }) =>
          !r.ok || r.completionTokens !== want.outputLen || r.promptTokens !== want.promptIds.length,
      );
    // Only whole, right results count as completed (a wrong token count is a failure, not both).
    const badSet = new Set(bad.map(({ r }) => r));
    const good = results.filter((r) => r.ok && !badSet.has(r));
    const failuresByCause: Record<string, number> = {};
    for (const { r } of bad) failuresByCause[failureCause(r)] = (failuresByCause[failureCause(r)] ?? 0) + 1;
    const retriedFetches = results.reduce((s, r) => s + r.retries, 0);
    const inputTokens = good.reduce((s, r) => s + r.promptTokens, 0);
    const outputTokens = good.reduce((s, r) => s + r.completionTokens, 0);
    const cached = good.reduce((s, r) => s + r.cachedTokens, 0);
    const summary = {
      backend,
      workload: a.workload,
      radixCache: a.launch ? !a["disable-radix-cache"] : "unknown (remote server)",
      requestRate: Number.isFinite(rate) ? rate : "inf",
      maxConcurrency,
      completed: good.length,
      failed: bad.length,
      failuresByCause,
      // Requests whose first fetch failed before any byte (a stale keep-alive socket) and were sent again.
      retriedFetches,
      durationS: seconds,
      totalInputTokens: inputTokens,
      totalOutputTokens: outputTokens,
      requestThroughput: good.length / seconds,
      inputTokenThroughput: inputTokens / seconds,
      outputTokenThroughput: outputTokens / seconds,
      // llama-cpp-python reports no cached tokens: unknown there, not zero.
      cacheHitRate: backend === "llama-cpp" ? null : inputTokens === 0 ? 0 : cached / inputTokens,
      ttftMs: dist(good.map((r) => r.ttftMs)),
      itlMs: dist(good.flatMap((r) => r.itlMs)),
      e2eMs: dist(good.map((r) => r.e2eMs)),
      // The workers' step loop over the run (radixserve_step_* of each worker's /metrics).
      stepProfile: profile,
    };
    if (a.json) writeFileSync(a.json, `${JSON.stringify(summary, null, 2)}\n`);
    if (a["json-stdout"]) process.stdout.write(`${JSON.stringify(summary)}\n`);
    else {
      const line = (k: string, v: string) => process.stdout.write(`${k.padEnd(40)}${v}\n`);
      process.stdout.write(`${"=".repeat(16)} Serving Benchmark Result ${"=".repeat(16)}\n`);
      line("Workload:", String(summary.workload));
      line("Request rate / max concurrency:", `${summary.requestRate} / ${maxConcurrency}`);
      line("Successful / failed requests:", `${summary.completed} / ${summary.failed}`);
      for (const [cause, n] of Object.entries(failuresByCause).sort((x, y) => y[1] - x[1]))
        line(`  failed: ${cause}`, String(n));
      line("Fetches retried (stale socket):", String(retriedFetches));
      line("Benchmark duration (s):", fmt(seconds));
      line("Total input / generated tokens:", `${inputTokens} / ${outputTokens}`);
      line("Request throughput (req/s):", fmt(summary.requestThroughput));
      line("Input token throughput (tok/s):", fmt(summary.inputTokenThroughput, 1));
      line("Output token throughput (tok/s):", fmt(summary.outputTokenThroughput, 1));
      line("Cache hit rate (cached/prompt tokens):", fmt(summary.cacheHitRate ?? Number.NaN, 3));
      for (const [name, d] of [
        ["TTFT", summary.ttftMs],
        ["ITL", summary.itlMs],
        ["E2E", summary.e2eMs],
      ] as const) {
        line(`${name} mean / p50 / p99 (ms):`, `${fmt(d.mean)} / ${fmt(d.p50)} / ${fmt(d.p99)}`);
      }
      if (profile) {
        const pct = (x: number) => `${(100 * x).toFixed(1)}%`;
        process.stdout.write(`${"-".repeat(16)} Worker step profile ${"-".repeat(21)}\n`);
        line("Steps / mean step (ms):", `${profile.steps} / ${fmt(profile.meanStepMs)}`);
        line(
          "Tokens per step (prefill / decode):",
          `${fmt(profile.tokensPerStep, 1)} (${profile.prefillTokens} / ${profile.decodeTokens})`,
        );
        line(
          "Steps prefill / decode / mixed:",
          `${profile.mix.prefill} / ${profile.mix.decode} / ${profile.mix.mixed}`,
        );
        const sh = profile.shares;
        line(
          "Idle / schedule / engine / post:",
          `${pct(sh.idle)} / ${pct(sh.schedule)} / ${pct(sh.engine)} / ${pct(sh.post)}`,
        );
        line("Prepare (overlaps engine), of engine:", pct(profile.prepareOfEngine));
      }
    }
    for (const { r, want } of bad.slice(0, 5)) {
      process.stderr.write(
        `bench/serving: bad result (asked ${want.promptIds.length}+${want.outputLen} tokens): ${JSON.stringify({ ...r, itlMs: undefined })}\n`,
      );
    }
    if (bad.length > 0) process.exitCode = 1;
  } finally {
    await launched?.stop();
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`bench/serving: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
