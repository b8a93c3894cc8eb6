/**
 * TTFT and inter-token latency, prefill/decode disaggregated vs unified, under a mixed workload:
 * `--short` clients loop short requests (decode-heavy) while long prompts arrive every
 * `--long-every-ms`. Disaggregation exists to keep the short requests' ITL p99 flat while the long
 * prompts prefill elsewhere; this prints whether it does, with ratios. Workers are driven over
 * gRPC directly (no router), greedy; outputs are checked for errors before any timing counts.
 *
 *   node --import tsx bench/disagg/serving.ts [--seconds 15] [--short 4] [--long-len 1024]
 *        [--long-every-ms 500] [--transport auto] [--threads 1] [--unified-threads 2]
 *        [--short-prefill-tokens N]  (the prefill worker's; 0 = FCFS steps only)
 *
 * Unified runs one worker with 2x threads (the same cores as P + D together) unless
 * --unified-threads says otherwise.
 */
import {
  defaultModel,
  median,
  pct,
  prompt,
  startWorker,
  type Timing,
  timedGenerate,
  type WorkerProc,
} from "./workers.js";

function arg(name: string, def: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1]! : def;
}
const SECONDS = Number(arg("seconds", "15"));
const SHORT = Number(arg("short", "4"));
const SHORT_LEN = Number(arg("short-len", "32"));
const SHORT_OUT = Number(arg("short-out", "64"));
const LONG_LEN = Number(arg("long-len", "1024"));
const LONG_EVERY = Number(arg("long-every-ms", "500"));
const TRANSPORT = arg("transport", "auto");
const THREADS = Number(arg("threads", "1"));
/** Unified worker threads: default 2x --threads (the cores P + D use together); 1x isolates interference. */
const UNIFIED_THREADS = Number(arg("unified-threads", String(2 * THREADS)));
/** The prefill worker's --short-prefill-tokens ("" = its default; 0 = FCFS steps only). */
const SHORT_PREFILL = arg("short-prefill-tokens", "");

interface RunResult {
  short: Timing[];
  long: Timing[];
}

async function workload(target: WorkerProc, prefillAddress: string): Promise<RunResult> {
  const res: RunResult = { short: [], long: [] };
  const until = performance.now() + SECONDS * 1000;
  let n = 0;
  const req = (ids: number[], maxNewTokens: number) => ({
    requestId: `b-${++n}`,
    inputIds: ids,
    sampling: { temperature: 0, maxNewTokens, ignoreEos: true },
    prefillAddress,
  });
  const shortLoop = async (k: number) => {
    while (performance.now() < until)
      res.short.push(await timedGenerate(target.client, req(prompt(SHORT_LEN, k * 100_000 + n), SHORT_OUT)));
  };
  const longLoop = async () => {
    const pending: Promise<void>[] = [];
    while (performance.now() < until) {
      pending.push(
        timedGenerate(target.client, req(prompt(LONG_LEN, 7_000_000 + n), 8)).then(
          (t) => void res.long.push(t),
        ),
      );
      await new Promise((r) => setTimeout(r, LONG_EVERY));
    }
    await Promise.all(pending);
  };
  await Promise.all([...Array.from({ length: SHORT }, (_, k) => shortLoop(k)), longLoop()]);
  return res;
}

function summarize(name: string, r: RunResult) {
  const errors = [...r.short, ...r.long].filter((t) => t.error);
  if (errors.length > 0)
    throw new Error(`${name}: ${errors.length} requests failed, e.g. ${errors[0]!.error}`);
  const itl = r.short.flatMap((t) => t.itlMs);
  const s = {
    name,
    shortRequests: r.short.length,
    longRequests: r.long.length,
    itlP50: median(itl),
    itlP99: pct(itl, 99),
    ttftShortP50: median(r.short.map((t) => t.ttftMs)),
    ttftShortP99: pct(
      r.short.map((t) => t.ttftMs),
      99,
    ),
    ttftLongP50: median(r.long.map((t) => t.ttftMs)),
    ttftLongP99: pct(
      r.long.map((t) => t.ttftMs),
      99,
    ),
    outTokPerS: r.short.reduce((a, t) => a + t.tokens.length, 0) / SECONDS,
  };
  console.log(
    `${name.padEnd(10)} ITL p50 ${s.itlP50.toFixed(1)} ms  p99 ${s.itlP99.toFixed(1)} ms | TTFT short p50 ${s.ttftShortP50.toFixed(0)} p99 ${s.ttftShortP99.toFixed(0)} ms | TTFT long p50 ${s.ttftLongP50.toFixed(0)} p99 ${s.ttftLongP99.toFixed(0)} ms | short out ${s.outTokPerS.toFixed(0)} tok/s (${s.shortRequests} short, ${s.longRequests} long)`,
  );
  return s;
}

async function main(): Promise<void> {
  const model = await defaultModel();
  const common = ["--model-path", model, "--kv-cache-blocks", "2048"];
  console.log(`unified: ${UNIFIED_THREADS} thread(s); prefill and decode workers: ${THREADS} thread(s) each`);
  console.log(
    `mixed workload: ${SHORT} clients x (${SHORT_LEN} prompt, ${SHORT_OUT} out) + a ${LONG_LEN}-token prompt every ${LONG_EVERY} ms, ${SECONDS} s each`,
  );
  const u = await startWorker("unified", [...common, "--threads", String(UNIFIED_THREADS)]);
  let uni: ReturnType<typeof summarize>;
  try {
    uni = summarize("unified", await workload(u, ""));
  } finally {
    await u.stop();
  }
  const p = await startWorker("prefill", [
    ...common,
    "--threads",
    String(THREADS),
    ...(SHORT_PREFILL ? ["--short-prefill-tokens", SHORT_PREFILL] : []),
  ]);
  const d = await startWorker("decode", [
    ...common,
    "--threads",
    String(THREADS),
    "--kv-transport",
    TRANSPORT,
  ]);
  let pd: ReturnType<typeof summarize>;
  try {
    pd = summarize(`pd/${TRANSPORT}`, await workload(d, p.address));
  } finally {
    await Promise.all([p.stop(), d.stop()]);
  }
  console.log(
    `ratios PD/unified: ITL p99 ${(pd.itlP99 / uni.itlP99).toFixed(2)}x, ITL p50 ${(pd.itlP50 / uni.itlP50).toFixed(2)}x, TTFT long p50 ${(pd.ttftLongP50 / uni.ttftLongP50).toFixed(2)}x, short tok/s ${(pd.outTokPerS / uni.outTokPerS).toFixed(2)}x`,
  );
}

await main();
