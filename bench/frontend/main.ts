// Frontend benchmark: a batch of SGLang-style programs sharing a long system prompt, run with
// @radixserve/client's runBatch over /generate, against the same calls made independently through
// the OpenAI chat endpoint (all fired at once, no shared-prefix ordering). Both runs start from an
// empty prefix cache (POST /flush_cache) on the same server, in the same process. Prints cached
// prompt tokens, wall time and programs/s, and the ratios. Results are validated first (every
// program answered, same token counts asked); timings are printed, never asserted.
//
//   node --import tsx bench/frontend/main.ts [--programs 64] [--system-tokens 1000] [--max-tokens 16]
//        [--concurrency 16] [--base-url http://127.0.0.1:30000 --api-key K | --launch-args "..."]
// Without --base-url it launches `radixserve start --disagg-mode unified` on the default model.
import { parseArgs } from "node:util";
import { program, RuntimeEndpoint } from "@radixserve/client";
import { launchCluster } from "../serving/launch.js";

const { values: o } = parseArgs({
  options: {
    programs: { type: "string", default: "64" },
    "system-tokens": { type: "string", default: "1000" },
    "max-tokens": { type: "string", default: "16" },
    concurrency: { type: "string", default: "16" },
    "base-url": { type: "string" },
    "api-key": { type: "string" },
    "launch-args": { type: "string", default: "--disagg-mode unified --kv-cache-blocks 2048" },
  },
});
const N = Number(o.programs);
const maxTokens = Number(o["max-tokens"]);
const concurrency = Number(o.concurrency);

/** A system prompt of about `tokens` tokens (~1.3 tokens per word of this text). */
function systemPrompt(tokens: number): string {
  const rules = [
    "Answer the question in one short sentence.",
    "Do not add a preamble or a follow-up question.",
    "Prefer plain words over jargon, and be accurate.",
    "When a question is ambiguous, answer its most common reading.",
  ];
  const words: string[] = ["You are a careful assistant for a geography quiz."];
  for (let i = 0; words.join(" ").split(" ").length * 1.3 < tokens; i++)
    words.push(`Rule ${i + 1}: ${rules[i % rules.length]}`);
  return words.join(" ");
}

const COUNTRIES = ["France", "Germany", "Italy", "Spain", "Portugal", "Poland", "Austria", "Greece"];
const questions = Array.from({ length: N }, (_, i) => ({
  question: `Question ${i + 1}: what is the capital of ${COUNTRIES[i % COUNTRIES.length]}?`,
}));

async function main(): Promise<void> {
  const launched = o["base-url"] ? null : await launchCluster(o["launch-args"]!.split(" ").filter(Boolean));
  const root = (o["base-url"] ?? launched!.baseUrl).replace(/\/v1$/, "");
  const key = o["api-key"];
  const ep = new RuntimeEndpoint(root, key ? { apiKey: key } : {});
  try {
    const system = systemPrompt(Number(o["system-tokens"]));
    const model = (await ep.modelInfo()).model_path;

    // 1. The client: runBatch over /generate (the first program primes the shared prefix).
    await ep.flushCache();
    const qa = program(async (s, a: { question: string }) => {
      s.system(system);
      s.user(a.question);
      s.assistant(s.gen("answer", { maxTokens, ignoreEos: true }));
    });
    let t0 = performance.now();
    const states = await qa.runBatch(questions, { endpoint: ep, concurrency, progress: true });
    const clientS = (performance.now() - t0) / 1000;
    const failed = states.filter((s) => s.error);
    if (failed.length)
      throw new Error(`client: ${failed.length} programs failed: ${String(failed[0]!.error)}`);
    const metas = states.map((s) => s.meta("answer")!);
    if (metas.some((m) => m.completion_tokens !== maxTokens))
      throw new Error("client: a program did not generate max-tokens");
    const clientCached = metas.reduce((a, m) => a + m.cached_tokens, 0);
    const promptTokens = metas.reduce((a, m) => a + m.prompt_tokens, 0);

    // 2. The baseline: the same chat calls through /v1/chat/completions, all at once (concurrency-limited).
    await ep.flushCache();
    const headers: Record<string, string> = { "content-type": "application/json" };
    if (key) headers["authorization"] = `Bearer ${key}`;
    let next = 0;
    let baseCached = 0;
    let basePrompt = 0;
    const call = async () => {
      while (next < N) {
        const q = questions[next++]!;
        const res = await fetch(`${root}/v1/chat/completions`, {
          method: "POST",
          headers,
          body: JSON.stringify({
            model,
            messages: [
              { role: "system", content: system },
              { role: "user", content: q.question },
            ],
            max_tokens: maxTokens,
            temperature: 0,
            ignore_eos: true,
          }),
        });
        const body = (await res.json()) as {
          usage: {
            prompt_tokens: number;
            completion_tokens: number;
            prompt_tokens_details?: { cached_tokens?: number };
          };
        };
        if (res.status !== 200 || body.usage.completion_tokens !== maxTokens)
          throw new Error(`baseline: HTTP ${res.status} ${JSON.stringify(body)}`);
        baseCached += body.usage.prompt_tokens_details?.cached_tokens ?? 0;
        basePrompt += body.usage.prompt_tokens;
      }
    };
    t0 = performance.now();
    await Promise.all(Array.from({ length: concurrency }, call));
    const baseS = (performance.now() - t0) / 1000;
    if (basePrompt !== promptTokens)
      throw new Error(`prompt tokens differ: client ${promptTokens}, baseline ${basePrompt}`);

    const row = (name: string, s: number, cached: number) =>
      `${name.padEnd(34)} ${s.toFixed(1).padStart(7)} s ${(N / s).toFixed(2).padStart(7)} programs/s ${cached.toString().padStart(7)} cached of ${promptTokens} prompt tokens (${((100 * cached) / promptTokens).toFixed(1)}%)`;
    process.stdout.write(
      `\nfrontend bench: ${N} programs, system prompt ${metas[0]!.prompt_tokens - 20}+ tokens, ${maxTokens} output tokens each, concurrency ${concurrency}, model ${model}\n` +
        `${row("client runBatch over /generate", clientS, clientCached)}\n` +
        `${row("OpenAI chat, independent calls", baseS, baseCached)}\n` +
        `ratio client / baseline: throughput ${(baseS / clientS).toFixed(2)}x, cached tokens ${(clientCached / Math.max(1, baseCached)).toFixed(2)}x\n`,
    );
  } finally {
    await launched?.stop();
  }
}

await main();
