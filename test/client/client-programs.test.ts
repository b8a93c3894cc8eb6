/**
 * @radixserve/client against a real local cluster on the default model (SmolLM2-135M-Instruct,
 * unified worker, API key on): the ported batch example answers all three questions with a
 * progress bar; select picks the obvious choice and exposes its scores; forks share their
 * parent's prefix (cached tokens); streaming gen; server errors as typed errors; /generate's
 * greedy tokens and logprobs equal the OpenAI endpoint's; prompt logprobs are the same in
 * prefill/decode mode as unified.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import {
  AuthenticationError,
  InvalidRequestError,
  type ProgramState,
  program,
  RuntimeEndpoint,
} from "@radixserve/client";
import { type Launched, launch } from "../harness/launcher.js";

const KEY = "client-test-key";
// Long enough to fill several KV blocks (16 tokens each): a shared prefix the cache can serve.
const SYSTEM =
  "You are a helpful assistant. Answer every question in one short sentence, accurately and politely, " +
  "without any preamble, lists or follow-up questions. Keep the answer under twenty words.";

async function stop(l: Launched): Promise<void> {
  l.proc.kill("SIGTERM");
  await l.exit;
}

function rootUrl(l: Launched): string {
  return l.ready.baseUrl.replace(/\/v1$/, "");
}

describe("@radixserve/client on the default model", () => {
  let l: Launched;
  let ep: RuntimeEndpoint;
  before(async () => {
    l = await launch(["--disagg-mode", "unified", "--threads", "1", "--api-key", KEY]);
    ep = new RuntimeEndpoint(rootUrl(l), { apiKey: KEY });
  });
  after(async () => {
    if (l) await stop(l);
  });

  it("runs the batch example: a system role, three questions, runBatch with a progress bar", async () => {
    const qa = program(async (s, args: { question: string }) => {
      s.system(SYSTEM);
      s.user(args.question);
      s.assistant(s.gen("answer", { maxTokens: 32 }));
    });
    const lines: string[] = [];
    const states = await qa.runBatch(
      [
        { question: "What is the capital of France?" },
        { question: "What is the capital of Germany?" },
        { question: "What is the capital of Italy?" },
      ],
      {
        endpoint: ep,
        concurrency: 1,
        progress: "log",
        progressOutput: { write: (t: string) => lines.push(t) },
      },
    );
    assert.equal(states.length, 3);
    for (const s of states) assert.equal(s.error, undefined, String(s.error));
    assert.match(states[0]!.get("answer")!, /Paris/);
    assert.match(states[1]!.get("answer")!, /Berlin/);
    assert.match(states[2]!.get("answer")!, /Rome/);
    assert.ok(
      lines.some((t) => t.startsWith("progress 100% 3/3")),
      lines.join(""),
    );
    // One prefill of the shared system prompt: the later programs find it in the prefix cache.
    const first = states[0]!.meta("answer")!;
    for (const s of states.slice(1))
      assert.ok(s.meta("answer")!.cached_tokens >= 32, JSON.stringify(s.meta("answer")));
    assert.ok(first.prompt_tokens > 40);
  });

  it("select picks the obvious choice by likelihood and keeps every choice's score", async () => {
    const pick = program(async (s) => {
      s.user("What is the capital of France?");
      s.assistant(["The capital of France is", s.select("city", [" London", " Paris", " Madrid"])]);
    });
    const s = await pick.run(undefined, { endpoint: ep });
    assert.equal(s.get("city"), " Paris");
    assert.equal(s.conversation[1]!.content, "The capital of France is Paris");
    const sc = s.scores("city")!;
    assert.deepEqual(sc.choices, [" London", " Paris", " Madrid"]);
    assert.equal(sc.index, 1);
    for (const [i, v] of sc.normalizedLogprobs.entries()) {
      assert.ok(Number.isFinite(v) && v < 0, `score ${i}: ${v}`);
      assert.ok(sc.tokenLogprobs[i]!.length >= 1);
    }
    assert.ok(
      sc.normalizedLogprobs[1]! > sc.normalizedLogprobs[0]! &&
        sc.normalizedLogprobs[1]! > sc.normalizedLogprobs[2]!,
    );
  });

  it("fork branches continue from the same prefix, served from the cache", async () => {
    const branches = program(async (s) => {
      s.system(SYSTEM);
      s.user("Name a fruit.");
      s.assistant(s.gen("fruit", { maxTokens: 8 }));
      s.user("Name another one.");
      const forks = s.fork(2);
      forks[0]!.assistant(forks[0]!.gen("a", { maxTokens: 8 }));
      forks[1]!.assistant(forks[1]!.gen("b", { maxTokens: 8, temperature: 0.8, seed: 7 }));
      (s as ProgramState & { forks?: ProgramState[] }).forks = forks;
    });
    const s = (await branches.run(undefined, { endpoint: ep })) as ProgramState & { forks: ProgramState[] };
    const parentPrompt = s.meta("fruit")!.prompt_tokens;
    const [a, b] = s.forks.map((f, i) => f.meta(i === 0 ? "a" : "b")!);
    for (const m of [a!, b!]) {
      assert.ok(m.prompt_tokens > parentPrompt);
      assert.ok(m.cached_tokens >= Math.floor(parentPrompt / 16) * 16, JSON.stringify(m));
    }
    assert.equal(s.forks[0]!.get("fruit"), s.get("fruit"), "a fork sees its parent's results");
  });

  it("streams a gen: the pieces add up to the stored text", async () => {
    const pieces: string[] = [];
    const s = await program(async (s) => {
      s.user("Count from one to five.");
      s.assistant(s.gen("count", { maxTokens: 24, onText: (t) => pieces.push(t) }));
    }).run(undefined, { endpoint: ep });
    assert.ok(pieces.length > 1);
    assert.equal(pieces.join(""), s.get("count"));
    assert.ok(s.meta("count")!.finish_reason);
  });

  it("server errors surface as typed errors", async () => {
    const regex = program(async (s) => {
      s.user("Say a number.");
      s.assistant(s.gen("n", { regex: "[0-9]+" }));
    });
    await assert.rejects(regex.run(undefined, { endpoint: ep }), (err: unknown) => {
      assert.ok(err instanceof InvalidRequestError);
      assert.equal(err.status, 400);
      assert.equal(err.param, "sampling_params.regex");
      return true;
    });
    const wrongKey = new RuntimeEndpoint(rootUrl(l), { apiKey: "wrong" });
    await assert.rejects(wrongKey.generate({ text: "hi" }), AuthenticationError);
    await assert.rejects(wrongKey.modelInfo(), AuthenticationError);
    await assert.rejects(ep.generate({ text: "hi", top_k: 3 } as never), (err: unknown) => {
      assert.ok(err instanceof InvalidRequestError);
      assert.match(err.message, /top_k/);
      return true;
    });
    const info = await ep.modelInfo();
    assert.equal(info.model_path, "SmolLM2-135M-Instruct");
    const flushed = await ep.flushCache();
    assert.equal(flushed.success, true);
  });

  it("/generate gives the OpenAI endpoint's greedy tokens and logprobs", async () => {
    const prompt = "The three primary colors are";
    const g = await ep.generate({
      text: prompt,
      sampling_params: { max_new_tokens: 12, temperature: 0 },
      return_logprob: true,
      logprob_start_len: 0,
    });
    const res = await fetch(`${l.ready.baseUrl}/completions`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${KEY}` },
      body: JSON.stringify({
        model: "SmolLM2-135M-Instruct",
        prompt,
        max_tokens: 12,
        temperature: 0,
        logprobs: 0,
      }),
    });
    const c = (await res.json()) as { choices: { text: string; logprobs: { token_logprobs: number[] } }[] };
    assert.equal(res.status, 200);
    assert.equal(g.text, c.choices[0]!.text);
    const lp = g.meta_info.output_token_logprobs!.map((e) => e[0]!);
    assert.equal(lp.length, c.choices[0]!.logprobs.token_logprobs.length);
    for (const [i, v] of lp.entries())
      assert.ok(Math.abs(v - c.choices[0]!.logprobs.token_logprobs[i]!) < 1e-4);
    // Prompt logprobs: every prompt token but the first, the first one null.
    const input = g.meta_info.input_token_logprobs!;
    assert.equal(input.length, g.meta_info.prompt_tokens);
    assert.equal(input[0]![0], null);
    for (const e of input.slice(1)) assert.ok(e[0]! < 0);
  });
});

describe("prompt logprobs in prefill/decode mode", () => {
  it("equal the unified worker's", async () => {
    const body = {
      text: "Water boils at one hundred degrees Celsius at sea level, and freezes at zero.",
      sampling_params: { max_new_tokens: 2, temperature: 0 },
      return_logprob: true,
      logprob_start_len: 3,
      top_logprobs_num: 2,
    };
    const results = [];
    for (const mode of [["--disagg-mode", "unified"], []]) {
      const l = await launch([...mode, "--threads", "1"]);
      try {
        const ep = new RuntimeEndpoint(rootUrl(l));
        await ep.generate(body); // a second run finds the prompt cached: the logprobs must not change
        results.push(await ep.generate(body));
      } finally {
        await stop(l);
      }
    }
    const [u, pd] = results.map((r) => r!.meta_info.input_token_logprobs!);
    assert.equal(u!.length, pd!.length);
    assert.ok(u!.length > 10);
    for (const [i, e] of u!.entries()) {
      assert.equal(e[1], pd![i]![1]);
      assert.ok(Math.abs(e[0]! - pd![i]![0]!) < 1e-3, `token ${i}: ${e[0]} vs ${pd![i]![0]}`);
    }
    assert.ok(results[1]!.meta_info.cached_tokens >= 0);
  });
});
