/**
 * End to end with the official `openai` client against a real cluster (router + unified worker +
 * native engine on the tiny model): chat, completions, streaming equals non-streaming greedy text,
 * stop strings, n=2, logprobs, seeds, usage, prefix-cache hits, client disconnects.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { loadTokenizer, tokenBytes, tokenString } from "@radixserve/core";
import OpenAI from "openai";
import { type Cluster, metricValue, startCluster, waitFor } from "./harness/cluster.js";

const KEY = "sk-radixserve-test";

describe("serving: OpenAI client against a real cluster", () => {
  let cluster: Cluster;
  let client: OpenAI;
  let model: string;

  before(async () => {
    cluster = await startCluster({ apiKey: KEY, workerArgs: ["--kv-cache-blocks", "512"] });
    client = new OpenAI({ baseURL: cluster.baseUrl, apiKey: KEY, maxRetries: 0, timeout: 60_000 });
    model = cluster.modelId;
  });
  after(async () => {
    await cluster?.stop();
  });

  it("lists the served model", async () => {
    const list = await client.models.list();
    assert.deepEqual(
      list.data.map((m) => m.id),
      [model],
    );
  });

  it("chat completion: text, finish_reason length, usage", async () => {
    const res = await client.chat.completions.create({
      model,
      messages: [
        { role: "system", content: "You are terse." },
        { role: "user", content: "Say something." },
      ],
      max_tokens: 12,
      temperature: 0,
      ignore_eos: true,
    } as OpenAI.ChatCompletionCreateParamsNonStreaming);
    const choice = res.choices[0]!;
    assert.equal(choice.message.role, "assistant");
    assert.ok((choice.message.content ?? "").length > 0);
    assert.equal(choice.finish_reason, "length");
    assert.equal(res.usage!.completion_tokens, 12);
    assert.ok(res.usage!.prompt_tokens > 5);
    assert.equal(res.usage!.total_tokens, res.usage!.prompt_tokens + 12);
  });

  it("completion: a token-id prompt gives the same greedy text as its string", async () => {
    const prompt = "The quick brown fox";
    const ids = (await loadTokenizer(cluster.modelPath)).encode(prompt);
    const a = await client.completions.create({ model, prompt, max_tokens: 8, temperature: 0 });
    const b = await client.completions.create({ model, prompt: ids, max_tokens: 8, temperature: 0 });
    assert.equal(a.object, "text_completion");
    assert.ok(a.choices[0]!.text.length > 0);
    assert.equal(b.choices[0]!.text, a.choices[0]!.text);
    assert.equal(b.usage!.prompt_tokens, ids.length);
    assert.ok(["length", "stop"].includes(a.choices[0]!.finish_reason));
  });

  it("streamed chat reassembles to the non-streamed greedy text", async () => {
    const params = {
      model,
      messages: [{ role: "user" as const, content: "Tell me a story about a cat." }],
      max_tokens: 24,
      temperature: 0,
    };
    const whole = await client.chat.completions.create(params);
    const stream = await client.chat.completions.create({
      ...params,
      stream: true,
      stream_options: { include_usage: true },
    });
    let text = "";
    let first = true;
    let finish: string | null = null;
    let usage: OpenAI.CompletionUsage | null | undefined = null;
    for await (const chunk of stream) {
      if (chunk.usage) usage = chunk.usage;
      const c = chunk.choices[0];
      if (!c) continue;
      if (first) {
        assert.equal(c.delta.role, "assistant", "the first chunk carries the role");
        first = false;
      }
      text += c.delta.content ?? "";
      if (c.finish_reason) finish = c.finish_reason;
    }
    assert.equal(text, whole.choices[0]!.message.content);
    assert.equal(finish, whole.choices[0]!.finish_reason);
    assert.equal(usage?.completion_tokens, whole.usage!.completion_tokens);
  });

  it("streamed completion reassembles to the non-streamed greedy text", async () => {
    const params = { model, prompt: "In a distant galaxy", max_tokens: 20, temperature: 0 };
    const whole = await client.completions.create(params);
    const stream = await client.completions.create({ ...params, stream: true });
    let text = "";
    for await (const chunk of stream) text += chunk.choices[0]?.text ?? "";
    assert.equal(text, whole.choices[0]!.text);
  });

  it("a stop string cuts the text before it, with finish_reason stop", async () => {
    const params = { model, prompt: "Once upon a time", max_tokens: 30, temperature: 0 };
    const full = (
      await client.completions.create({
        ...params,
        ignore_eos: true,
      } as OpenAI.CompletionCreateParamsNonStreaming)
    ).choices[0]!.text;
    // A stop string from the middle of the greedy text: the answer must end right before it.
    const cut = Math.floor(full.length / 2);
    const stop = full.slice(cut, cut + 3);
    assert.ok(stop.length === 3, `greedy text too short: ${JSON.stringify(full)}`);
    const res = await client.completions.create({ ...params, stop: [stop] });
    const expected = full.slice(0, full.indexOf(stop));
    assert.equal(res.choices[0]!.text, expected);
    assert.equal(res.choices[0]!.finish_reason, "stop");
    // Streaming finds the same cut.
    let streamed = "";
    for await (const c of await client.completions.create({ ...params, stop: [stop], stream: true }))
      streamed += c.choices[0]?.text ?? "";
    assert.equal(streamed, expected);
  });

  it("n=2 with a seed is reproducible; same seed, same text", async () => {
    const params = {
      model,
      messages: [{ role: "user" as const, content: "Pick random words." }],
      max_tokens: 10,
      temperature: 1,
      seed: 1234,
      n: 2,
      ignore_eos: true,
    } as OpenAI.ChatCompletionCreateParamsNonStreaming;
    const a = await client.chat.completions.create(params);
    const b = await client.chat.completions.create(params);
    assert.equal(a.choices.length, 2);
    assert.deepEqual(
      a.choices.map((c) => c.index),
      [0, 1],
    );
    assert.deepEqual(
      a.choices.map((c) => c.message.content),
      b.choices.map((c) => c.message.content),
    );
    assert.equal(a.usage!.completion_tokens, 20);
    // Choice i samples with seed + i: the two choices are different draws.
    assert.notEqual(a.choices[0]!.message.content, a.choices[1]!.message.content);
  });

  it("n=2: the second sample reuses the first one's prompt from the prefix cache", async () => {
    const res = await client.chat.completions.create({
      model,
      messages: [
        {
          role: "user",
          content: `Unique prompt for the n=2 cache check. ${"Lorem ipsum dolor. ".repeat(20)}`,
        },
      ],
      max_tokens: 4,
      temperature: 0.7,
      n: 2,
    });
    assert.equal(res.choices.length, 2);
    const cached = res.usage!.prompt_tokens_details?.cached_tokens ?? 0;
    assert.ok(cached >= 64, `cached_tokens=${cached} of ${res.usage!.prompt_tokens} prompt tokens`);
  });

  it("seed reproducibility: same seed same text, another seed another text", async () => {
    const ask = (seed: number) =>
      client.completions.create({
        model,
        prompt: "Random words:",
        max_tokens: 12,
        temperature: 1,
        seed,
        ignore_eos: true,
      } as OpenAI.CompletionCreateParamsNonStreaming);
    const [a, b, c] = [await ask(7), await ask(7), await ask(8)];
    assert.equal(a.choices[0]!.text, b.choices[0]!.text);
    assert.notEqual(a.choices[0]!.text, c.choices[0]!.text);
  });

  it("chat logprobs: one entry per token, top_logprobs sorted, greedy token is the top one", async () => {
    const res = await client.chat.completions.create({
      model,
      messages: [{ role: "user", content: "Hello" }],
      max_tokens: 6,
      temperature: 0,
      logprobs: true,
      top_logprobs: 3,
      ignore_eos: true,
    } as OpenAI.ChatCompletionCreateParamsNonStreaming);
    const content = res.choices[0]!.logprobs!.content!;
    assert.equal(content.length, 6);
    for (const t of content) {
      assert.ok(t.logprob <= 0);
      assert.equal(t.top_logprobs.length, 3);
      const tops = t.top_logprobs.map((x) => x.logprob);
      assert.deepEqual(
        tops,
        [...tops].sort((x, y) => y - x),
      );
      assert.ok(Math.abs(tops[0]! - t.logprob) < 1e-4, "greedy picks the most likely token");
    }
  });

  it("logit_bias +100 forces a token through router, worker and native sampling; logprob bytes are its exact bytes", async () => {
    const tok = await loadTokenizer(cluster.modelPath);
    const forced = tok.encode(" Hello", { addSpecialTokens: false }).at(-1)!;
    const want = tokenBytes(tok, forced);
    const res = await client.chat.completions.create({
      model,
      messages: [{ role: "user", content: "Count to three." }],
      max_tokens: 4,
      temperature: 0.8,
      seed: 5,
      logprobs: true,
      logit_bias: { [forced]: 100 },
      ignore_eos: true,
    } as OpenAI.ChatCompletionCreateParamsNonStreaming);
    const content = res.choices[0]!.logprobs!.content!;
    assert.equal(content.length, 4);
    for (const t of content) {
      assert.deepEqual(t.bytes, [...want]);
      assert.equal(t.token, tokenString(want));
    }
    const bad = await fetch(`${cluster.baseUrl}/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${KEY}` },
      body: JSON.stringify({
        model,
        messages: [{ role: "user", content: "x" }],
        logit_bias: { [tok.vocabSize]: 1 },
      }),
    });
    assert.equal(bad.status, 400);
    assert.equal(((await bad.json()) as { error: { param: string } }).error.param, "logit_bias");
  });

  it("completion logprobs (int) give parallel arrays", async () => {
    const res = await client.completions.create({
      model,
      prompt: "Hi",
      max_tokens: 4,
      temperature: 0,
      logprobs: 2,
    });
    const lp = res.choices[0]!.logprobs!;
    assert.equal(lp.tokens!.length, lp.token_logprobs!.length);
    assert.equal(lp.top_logprobs!.length, lp.tokens!.length);
    assert.ok(Object.keys(lp.top_logprobs![0]!).length >= 1);
  });

  it("a second request sharing a long prefix reports cached tokens and moves the worker's cache metric", async () => {
    const before = metricValue(await cluster.workerMetrics(), "radixserve_cached_tokens_total") ?? 0;
    const system = `You are a helpful assistant. ${"Remember these facts carefully. ".repeat(30)}`;
    const ask = (q: string) =>
      client.chat.completions.create({
        model,
        messages: [
          { role: "system", content: system },
          { role: "user", content: q },
        ],
        max_tokens: 4,
        temperature: 0,
      });
    const first = await ask("What is the first fact?");
    const second = await ask("What is the second fact?");
    assert.ok(first.usage!.prompt_tokens > 100, `prompt too short: ${first.usage!.prompt_tokens}`);
    const cached = second.usage!.prompt_tokens_details?.cached_tokens ?? 0;
    assert.ok(cached >= 64, `expected a prefix hit, got cached_tokens=${cached}`);
    assert.ok(cached < second.usage!.prompt_tokens);
    const afterValue = metricValue(await cluster.workerMetrics(), "radixserve_cached_tokens_total") ?? 0;
    assert.ok(afterValue - before >= cached, `worker cached_tokens_total moved by ${afterValue - before}`);
  });

  it("a client disconnecting mid-stream frees the worker's KV blocks", async () => {
    const idle = await cluster.workerLoad();
    assert.equal(idle.runningRequests, 0);
    const ac = new AbortController();
    const stream = await client.completions.create(
      {
        model,
        prompt: "Write a very long essay.",
        max_tokens: 1500,
        temperature: 0,
        stream: true,
        ignore_eos: true,
      } as OpenAI.CompletionCreateParamsStreaming,
      { signal: ac.signal },
    );
    let chunks = 0;
    try {
      for await (const _ of stream) {
        if (++chunks === 3) {
          const busy = await cluster.workerLoad();
          assert.equal(busy.runningRequests, 1);
          assert.ok(busy.kvBlocksFree < idle.kvBlocksFree, "the running request holds blocks");
          ac.abort();
        }
      }
    } catch (err) {
      assert.ok(ac.signal.aborted, `unexpected stream error: ${String(err)}`);
    }
    const back = await waitFor(async () => {
      const l = await cluster.workerLoad();
      return l.runningRequests === 0 && l.queuedRequests === 0 && l.kvBlocksFree === idle.kvBlocksFree;
    }, 15_000);
    const now = await cluster.workerLoad();
    assert.ok(
      back,
      `KV pool not back to idle: free ${now.kvBlocksFree} vs ${idle.kvBlocksFree}, running ${now.runningRequests}`,
    );
  });
});
