/**
 * Chooses --disagg-prefill-threshold by measurement: time to first token of a prompt with n
 * uncached tokens, prefilled remotely (P computes, KV travels, D adopts) vs locally on the decode
 * worker, on idle workers. The crossover is where the transfer round trip stops paying; when D is
 * busy decoding, a local prefill also stalls its running requests, so the default sits at or just
 * below the crossover.
 *
 *   node --import tsx bench/disagg/threshold.ts [--reps 5] [--transport auto]
 */
import { defaultModel, median, prompt, startWorker, timedGenerate } from "./workers.js";

function arg(name: string, def: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1]! : def;
}
const REPS = Number(arg("reps", "5"));
const TRANSPORT = arg("transport", "auto");
const SIZES = [4, 8, 16, 32, 64, 128, 256, 512];

async function main(): Promise<void> {
  const model = await defaultModel();
  const common = ["--model-path", model, "--kv-cache-blocks", "1024", "--threads", "1"];
  const p = await startWorker("prefill", common);
  const remote = await startWorker("decode", [
    ...common,
    "--disagg-prefill-threshold",
    "0",
    "--kv-transport",
    TRANSPORT,
  ]);
  const local = await startWorker("decode", [...common, "--disagg-prefill-threshold", "1000000"]);
  let salt = 0;
  try {
    const ttft = async (w: typeof remote, n: number) => {
      const xs: number[] = [];
      for (let r = 0; r < REPS; r++) {
        const t = await timedGenerate(w.client, {
          requestId: `t-${++salt}`,
          inputIds: prompt(n, 900_000 + salt * 1000),
          sampling: { temperature: 0, maxNewTokens: 2, ignoreEos: true },
          prefillAddress: p.address,
        });
        if (t.error) throw new Error(t.error);
        xs.push(t.ttftMs);
      }
      return median(xs);
    };
    await ttft(remote, 16); // warm both paths
    await ttft(local, 16);
    console.log(`TTFT (ms, median of ${REPS}) by uncached prompt tokens; transport ${TRANSPORT}`);
    console.log("tokens   remote   local   remote/local");
    for (const n of SIZES) {
      const r = await ttft(remote, n);
      const l = await ttft(local, n);
      console.log(
        `${String(n).padStart(6)} ${r.toFixed(1).padStart(8)} ${l.toFixed(1).padStart(7)}   ${(r / l).toFixed(2)}`,
      );
    }
  } finally {
    await Promise.all([p.stop(), remote.stop(), local.stop()]);
  }
}

await main();
