// Draft verification in one step (StepSequence.numDraft): greedy verification emits exactly what
// one-token steps emit, batch rows accept different counts, and rejection sampling keeps the
// target's distribution (chi-square over many seeded draws on a top-k-limited vocabulary).
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { Engine, SamplingParams } from "../src/index.js";
import { blocks, openEngine, prefillLogits, tokens } from "./helpers.js";

/** Greedy continuation of `prompt`, one token per step, into `table`. */
async function greedy(e: Engine, prompt: Int32Array, table: Int32Array, n: number): Promise<number[]> {
  const out: number[] = [];
  let [o] = await e.step([{ tokens: prompt, startPos: 0, blockTable: table, sample: true }]);
  for (let i = 0; i < n; i++) {
    out.push(o!.token);
    [o] = await e.step([
      { tokens: Int32Array.of(o!.token), startPos: prompt.length + i, blockTable: table, sample: true },
    ]);
  }
  return out;
}

/** Prefills all but the last prompt token; the verify step then runs [last, ...drafts]. */
async function verify(
  e: Engine,
  prompt: Int32Array,
  table: Int32Array,
  drafts: number[],
  sampling?: SamplingParams,
): Promise<number[]> {
  const [o] = await e.step([
    {
      tokens: Int32Array.from([prompt[prompt.length - 1]!, ...drafts]),
      startPos: prompt.length - 1,
      blockTable: table,
      sample: true,
      numDraft: drafts.length,
      ...(sampling ? { sampling } : {}),
    },
  ]);
  return o!.verified!.map((t) => t.token);
}

describe("engine draft verification", () => {
  it("greedy: accepts the matching drafts, then emits the target's token", async () => {
    const e = await openEngine();
    const prompt = tokens(21, 5);
    const g = await greedy(e, prompt, blocks(0, 2), 6);
    await e.step([{ tokens: prompt.subarray(0, -1), startPos: 0, blockTable: blocks(4, 2), sample: false }]);
    assert.deepEqual(await verify(e, prompt, blocks(4, 2), [g[0]!, g[1]!, g[2]!]), g.slice(0, 4));
    const wrong = (g[2]! + 1) % 32000;
    assert.deepEqual(await verify(e, prompt, blocks(4, 2), [g[0]!, g[1]!, wrong, g[3]!]), g.slice(0, 3));
    assert.deepEqual(await verify(e, prompt, blocks(4, 2), [(g[0]! + 7) % 32000]), g.slice(0, 1));
  });

  it("batch rows accept different counts in one step", async () => {
    const e = await openEngine();
    const a = tokens(17, 8);
    const b = tokens(30, 9);
    const ga = await greedy(e, a, blocks(0, 2), 4);
    const gb = await greedy(e, b, blocks(2, 3), 4);
    await e.step([
      { tokens: a.subarray(0, -1), startPos: 0, blockTable: blocks(8, 2), sample: false },
      { tokens: b.subarray(0, -1), startPos: 0, blockTable: blocks(10, 3), sample: false },
    ]);
    const out = await e.step([
      {
        tokens: Int32Array.from([a[a.length - 1]!, ga[0]!, ga[1]!, ga[2]!]),
        startPos: a.length - 1,
        blockTable: blocks(8, 2),
        sample: true,
        numDraft: 3,
      },
      {
        tokens: Int32Array.from([b[b.length - 1]!, gb[0]!, (gb[1]! + 1) % 32000]),
        startPos: b.length - 1,
        blockTable: blocks(10, 3),
        sample: true,
        numDraft: 2,
      },
    ]);
    assert.deepEqual(
      out[0]!.verified!.map((t) => t.token),
      ga.slice(0, 4),
    );
    assert.deepEqual(
      out[1]!.verified!.map((t) => t.token),
      gb.slice(0, 2),
    );
    assert.equal(out[0]!.token, ga[0]);
  });

  it("refuses numDraft without sample or past the tokens", async () => {
    const e = await openEngine();
    const base = { tokens: tokens(3, 1), startPos: 0, blockTable: blocks(0, 1) };
    await assert.rejects(e.step([{ ...base, sample: false, numDraft: 1 }]), /numDraft needs sample/);
    await assert.rejects(e.step([{ ...base, sample: true, numDraft: 3 }]), /numDraft = 3 must be/);
    const allowedTokens = new Uint32Array(1000).fill(0xffffffff);
    await assert.rejects(
      e.step([{ ...base, sample: true, numDraft: 1, sampling: { allowedTokens } }]),
      /numDraft cannot be combined with sampling.allowedTokens/,
    );
  });

  it("rejection sampling keeps the target's distribution (chi-square, top-k 8)", async () => {
    const e = await openEngine();
    const prompt = tokens(12, 77);
    const table = blocks(20, 1);
    const sampling = { temperature: 1, topK: 8 };
    // The target's distribution after the whole prompt: softmax over its 8 largest logits.
    const logits = await prefillLogits(e, prompt, table);
    const top = Array.from(logits.keys())
      .sort((x, y) => logits[y]! - logits[x]!)
      .slice(0, 8);
    const w = top.map((t) => Math.exp(logits[t]! - logits[top[0]!]!));
    const sum = w.reduce((x, y) => x + y, 0);
    const p = w.map((x) => x / sum);
    // Drafts: the likeliest token (often accepted), a middling one, and one outside the top-k (never accepted).
    const outside = Array.from(logits.keys()).find((t) => !top.includes(t))!;
    // 32 copies of the prompt's KV block: one step verifies 32 seeds at once.
    const copies = blocks(30, 32);
    await e.copyBlocks(
      Int32Array.from(copies, () => table[0]!),
      copies,
    );
    for (const draft of [top[0]!, top[3]!, outside]) {
      const n = 32 * 30;
      const counts = new Map<number, number>();
      let accepted = 0;
      for (let s = 0; s < n; s += 32) {
        const out = await e.step(
          Array.from(copies, (b, i) => ({
            tokens: Int32Array.of(prompt[prompt.length - 1]!, draft, top[1]!),
            startPos: prompt.length - 1,
            blockTable: Int32Array.of(b),
            sample: true,
            numDraft: 2,
            sampling: { ...sampling, seed: s + i },
          })),
        );
        for (const o of out) {
          const first = o!.verified![0]!.token;
          counts.set(first, (counts.get(first) ?? 0) + 1);
          if (first === draft) accepted++;
        }
      }
      for (const t of counts.keys()) assert.ok(top.includes(t), `token ${t} drawn outside the top-k`);
      let chi2 = 0;
      top.forEach((t, i) => {
        const expect = n * p[i]!;
        chi2 += ((counts.get(t) ?? 0) - expect) ** 2 / expect;
      });
      // 7 degrees of freedom: 24.3 is the 0.999 quantile (seeds are fixed, so this never flakes).
      assert.ok(chi2 < 24.3, `draft ${draft}: chi-square ${chi2.toFixed(1)} over ${JSON.stringify(top)}`);
      const pDraft = top.includes(draft) ? p[top.indexOf(draft)]! : 0;
      assert.ok(
        Math.abs(accepted / n - pDraft) < 0.05,
        `draft ${draft}: accepted ${accepted / n}, target probability ${pDraft}`,
      );
    }
  });
});
