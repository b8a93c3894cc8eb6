// Native sampling: seeded draws are reproducible and independent of batch composition; top-k and
// top-p never pick outside their sets; logprobs are the raw log-softmax.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { Engine, SamplingParams } from "../src/index.js";
import { argmax, blocks, openEngine, tokens } from "./helpers.js";

async function rawLogits(e: Engine, prompt: Int32Array): Promise<Float32Array> {
  const [o] = await e.step([
    { tokens: prompt, startPos: 0, blockTable: blocks(60, 2), sample: false, returnLogits: "last" },
  ]);
  return o!.logits!;
}

/** Samples the next token after `prompt` with one step per seed (prefill rewritten each time). */
async function draw(e: Engine, prompt: Int32Array, sampling: SamplingParams): Promise<number> {
  const [o] = await e.step([
    { tokens: prompt, startPos: 0, blockTable: blocks(60, 2), sample: true, sampling },
  ]);
  return o!.token;
}

describe("engine sampling", () => {
  it("greedy picks the argmax of the raw logits", async () => {
    const e = await openEngine();
    const prompt = tokens(9, 3);
    assert.equal(await draw(e, prompt, {}), argmax(await rawLogits(e, prompt)));
  });

  it("a seed gives the same token alone and inside a different batch", async () => {
    const e = await openEngine();
    const prompt = tokens(12, 4);
    const sampling = { temperature: 1.5, seed: 1234 };
    const alone: number[] = [];
    for (let s = 0; s < 8; s++) alone.push(await draw(e, prompt, { ...sampling, seed: 1000 + s }));
    const batched: number[] = [];
    for (let s = 0; s < 8; s++) {
      const out = await e.step([
        {
          tokens: tokens(30, 50 + s),
          startPos: 0,
          blockTable: blocks(0, 2),
          sample: true,
          sampling: { temperature: 1 },
        },
        {
          tokens: prompt,
          startPos: 0,
          blockTable: blocks(60, 1),
          sample: true,
          sampling: { ...sampling, seed: 1000 + s },
        },
      ]);
      batched.push(out[1]!.token);
    }
    assert.deepEqual(batched, alone);
    assert.ok(new Set(alone).size > 1, "different seeds should not all give one token at temperature 1.5");
  });

  it("logit bias: -100 bans the argmax, +100 forces a chosen token, bad ids and values are refused", async () => {
    const e = await openEngine();
    const prompt = tokens(9, 5);
    const logits = await rawLogits(e, prompt);
    const best = argmax(logits);
    const banned = await draw(e, prompt, {
      logitBias: { tokenIds: Int32Array.of(best), values: Float32Array.of(-100) },
    });
    const rest = Float32Array.from(logits);
    rest[best] = -Infinity;
    assert.equal(banned, argmax(rest), "greedy falls to the runner-up");
    const target = (best + 17) % logits.length;
    const [o] = await e.step([
      {
        tokens: prompt,
        startPos: 0,
        blockTable: blocks(60, 2),
        sample: true,
        sampling: {
          temperature: 1,
          seed: 3,
          logitBias: { tokenIds: Int32Array.of(target), values: Float32Array.of(100) },
        },
      },
    ]);
    assert.equal(o!.token, target);
    await assert.rejects(
      () =>
        draw(e, prompt, {
          logitBias: { tokenIds: Int32Array.of(logits.length), values: Float32Array.of(1) },
        }),
      /logitBias\.tokenIds\[0\].*not a token id/,
    );
    await assert.rejects(
      () => draw(e, prompt, { logitBias: { tokenIds: Int32Array.of(1), values: Float32Array.of(101) } }),
      /in \[-100, 100\]/,
    );
  });

  it("a token mask: only allowed tokens are sampled, whatever the temperature, bias or greedy", async () => {
    const e = await openEngine();
    const prompt = tokens(11, 6);
    const logits = await rawLogits(e, prompt);
    const vocab = logits.length;
    const best = argmax(logits);
    const allowed = [3, 40, (best + 101) % vocab, vocab - 1].filter((t) => t !== best);
    const mask = new Uint32Array(Math.ceil(vocab / 32));
    for (const t of allowed) mask[t >>> 5]! |= 1 << (t & 31);
    const greedy = await draw(e, prompt, { allowedTokens: mask });
    const restricted = Float32Array.from(logits, (v, t) => (allowed.includes(t) ? v : -Infinity));
    assert.equal(greedy, argmax(restricted));
    const seen = new Set<number>();
    for (let s = 0; s < 60; s++) {
      const t = await draw(e, prompt, {
        temperature: 50,
        seed: s,
        allowedTokens: mask,
        logitBias: { tokenIds: Int32Array.of(best), values: Float32Array.of(100) },
      });
      assert.ok(allowed.includes(t), `token ${t} is masked`);
      seen.add(t);
    }
    assert.ok(seen.size >= 2, "a hot temperature visits several allowed tokens");
    await assert.rejects(
      () => draw(e, prompt, { allowedTokens: new Uint32Array(mask.length) }),
      /allows no token/,
    );
    await assert.rejects(
      () => draw(e, prompt, { allowedTokens: new Uint32Array(3) }),
      /Uint32Array of \d+ words/,
    );
  });

  it("top-k never picks outside the k largest logits", async () => {
    const e = await openEngine();
    const prompt = tokens(10, 8);
    const logits = await rawLogits(e, prompt);
    const order = Array.from(logits.keys()).sort((a, b) => logits[b]! - logits[a]!);
    const allowed = new Set(order.slice(0, 5));
    const seen = new Set<number>();
    for (let s = 0; s < 200; s++) {
      const t = await draw(e, prompt, { temperature: 5, topK: 5, seed: s });
      assert.ok(allowed.has(t), `token ${t} is outside the top 5`);
      seen.add(t);
    }
    assert.ok(seen.size >= 3, `a hot temperature should visit several of the 5 (saw ${seen.size})`);
  });

  it("top-p never picks outside the nucleus", async () => {
    const e = await openEngine();
    const prompt = tokens(10, 9);
    const logits = await rawLogits(e, prompt);
    const temperature = 0.7;
    const order = Array.from(logits.keys()).sort((a, b) => logits[b]! - logits[a]!);
    const max = logits[order[0]!]!;
    const w = order.map((i) => Math.exp((logits[i]! - max) / temperature));
    const z = w.reduce((a, b) => a + b, 0);
    const nucleus = new Set<number>();
    let cum = 0;
    for (let i = 0; i < order.length && cum < 0.5; i++) {
      cum += w[i]! / z;
      nucleus.add(order[i]!);
    }
    for (let s = 0; s < 200; s++) {
      const t = await draw(e, prompt, { temperature, topP: 0.5, seed: s });
      assert.ok(nucleus.has(t), `token ${t} is outside the top-p 0.5 nucleus of ${nucleus.size}`);
    }
  });

  it("min-p keeps only tokens at least min_p times as likely as the best", async () => {
    const e = await openEngine();
    const prompt = tokens(10, 10);
    const logits = await rawLogits(e, prompt);
    const best = argmax(logits);
    for (let s = 0; s < 100; s++) {
      const t = await draw(e, prompt, { temperature: 1, minP: 0.5, seed: s });
      assert.ok(logits[t]! >= logits[best]! + Math.log(0.5) - 1e-4, `token ${t} is below min-p`);
    }
  });

  it("penalties push repeated tokens down", async () => {
    const e = await openEngine();
    const prompt = tokens(10, 11);
    const top = argmax(await rawLogits(e, prompt));
    const out = Int32Array.from([top, top, top]);
    const t1 = await draw(e, prompt, { repetitionPenalty: 100 });
    assert.equal(t1, top, "no penalty without history");
    const [o] = await e.step([
      {
        tokens: prompt,
        startPos: 0,
        blockTable: blocks(60, 1),
        sample: true,
        sampling: { frequencyPenalty: 2, presencePenalty: 2 },
        outputTokens: out,
      },
    ]);
    assert.notEqual(
      o!.token,
      top,
      "frequency + presence penalty 2 over 3 repeats should change the greedy pick",
    );
    const [r] = await e.step([
      {
        tokens: prompt,
        startPos: 0,
        blockTable: blocks(60, 1),
        sample: true,
        sampling: { repetitionPenalty: 1000 },
        promptTokens: Int32Array.from([top]),
      },
    ]);
    assert.notEqual(
      r!.token,
      top,
      "a huge repetition penalty on a prompt token removes it from the greedy pick",
    );
  });

  it("logprobs are the raw log-softmax, with top-n in descending order", async () => {
    const e = await openEngine();
    const prompt = tokens(10, 12);
    const logits = await rawLogits(e, prompt);
    const [o] = await e.step([
      {
        tokens: prompt,
        startPos: 0,
        blockTable: blocks(60, 1),
        sample: true,
        sampling: { temperature: 0.8, seed: 3, logprobs: 4 },
      },
    ]);
    let m = -Infinity;
    for (const v of logits) m = Math.max(m, v);
    let z = 0;
    for (const v of logits) z += Math.exp(v - m);
    const lse = m + Math.log(z);
    assert.ok(Math.abs(o!.logprob - (logits[o!.token]! - lse)) < 1e-4);
    const top = o!.topLogprobs!;
    assert.equal(top.length, 4);
    assert.equal(top[0]!.token, argmax(logits));
    for (let i = 1; i < top.length; i++) assert.ok(top[i - 1]!.logprob >= top[i]!.logprob);
    assert.ok(Math.abs(top[0]!.logprob - (logits[top[0]!.token]! - lse)) < 1e-4);
  });
});
