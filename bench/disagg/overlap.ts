/**
 * What sending each prefill chunk's KV as soon as it is computed gives, against sending all of it
 * after the prefill (--kv-send-when-done): time to first token of long prompts through P -> D,
 * per transport. Chunked prefill (--chunked-prefill-size) sets the granularity of the overlap.
 *
 *   node --import tsx bench/disagg/overlap.ts [--reps 3] [--chunk 256] [--transport grpc]
 */
import { defaultModel, median, prompt, startWorker, timedGenerate } from "./workers.js";

function arg(name: string, def: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1]! : def;
}
const REPS = Number(arg("reps", "3"));
const CHUNK = arg("chunk", "256");
const TRANSPORT = arg("transport", "grpc");
const LENGTHS = [512, 1024, 2000];

async function main(): Promise<void> {
  const model = await defaultModel();
  const common = ["--model-path", model, "--kv-cache-blocks", "2048", "--threads", "1"];
  const pOver = await startWorker("prefill", [...common, "--chunked-prefill-size", CHUNK]);
  const pAfter = await startWorker("prefill", [
    ...common,
    "--chunked-prefill-size",
    CHUNK,
    "--kv-send-when-done",
  ]);
  const d = await startWorker("decode", [
    ...common,
    "--disagg-prefill-threshold",
    "0",
    "--kv-transport",
    TRANSPORT,
  ]);
  let salt = 0;
  try {
    const ttft = async (pAddr: string, n: number) => {
      const xs: number[] = [];
      for (let r = 0; r < REPS; r++) {
        const t = await timedGenerate(d.client, {
          requestId: `o-${++salt}`,
          inputIds: prompt(n, 3_000_000 + salt * 7),
          sampling: { temperature: 0, maxNewTokens: 2, ignoreEos: true },
          prefillAddress: pAddr,
        });
        if (t.error) throw new Error(t.error);
        xs.push(t.ttftMs);
      }
      return median(xs);
    };
    await ttft(pOver.address, 64);
    await ttft(pAfter.address, 64);
    console.log(`TTFT (ms, median of ${REPS}), chunked prefill ${CHUNK}, transport ${TRANSPORT}`);
    console.log("tokens  per-chunk  after-prefill  saved");
    for (const n of LENGTHS) {
      const a = await ttft(pOver.address, n);
      const b = await ttft(pAfter.address, n);
      console.log(
        `${String(n).padStart(6)} ${a.toFixed(1).padStart(10)} ${b.toFixed(1).padStart(14)}  ${((1 - a / b) * 100).toFixed(0)}%`,
      );
    }
  } finally {
    await Promise.all([pOver.stop(), pAfter.stop(), d.stop()]);
  }
}

await main();
