import assert from "node:assert/strict";
import { test } from "node:test";
import { blockHashSeed } from "@radixserve/core";
import type { SchedulerConfig } from "../src/scheduler/config.js";
import type { RequestEvent } from "../src/scheduler/request.js";
import { Scheduler } from "../src/scheduler/scheduler.js";
import { FakeEngine } from "./scheduler-fake-engine.js";

/** Small deterministic PRNG (mulberry32) so a failure reproduces. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const VOCAB = 400;

interface Req {
  id: string;
  prompt: number[];
  max: number;
  toks: number[];
  end?: RequestEvent;
}
const base: SchedulerConfig = {
  blockSize: 4,
  numBlocks: 24,
  maxRunningRequests: 5,
  maxQueuedRequests: 100,
  chunkedPrefillSize: 8,
  maxPrefillTokens: 12,
  maxContextLength: 128,
  vocabSize: VOCAB,
  eosTokenIds: [],
  enablePrefixCache: true,
  hashSeed: blockHashSeed("stress"),
};

async function solo(prompt: number[], maxNewTokens: number): Promise<number[]> {
  const s = new Scheduler({ ...base, numBlocks: 64, enablePrefixCache: false });
  const e = new FakeEngine(64, 4, VOCAB);
  const toks: number[] = [];
  s.submit({ id: "solo", inputIds: prompt, sampling: {}, maxNewTokens }, (ev) => {
    if (ev.type === "token") toks.push(ev.tokenId);
  });
  while (!s.idle) {
    const b = s.schedule()!;
    s.postProcess(b, await e.step(b.steps));
  }
  return toks;
}

test("scheduler stress: random arrivals, shared prefixes, aborts and a tight pool keep every invariant and every token", async () => {
  let preemptions = 0;
  let cachedTokens = 0;
  for (const seed of [1, 2, 3]) {
    for (const enablePrefixCache of [true, false]) {
      const rand = rng(seed);
      const s = new Scheduler({ ...base, enablePrefixCache });
      const e = new FakeEngine(24, 4, VOCAB);
      const prefixes = [0, 1, 2].map((g) => Array.from({ length: 12 }, (_, j) => 10 + g * 50 + j));
      const reqs: Array<{ id: string; prompt: number[]; max: number; toks: number[]; end?: RequestEvent }> =
        [];
      let steps = 0;
      let submitted = 0;
      while (submitted < 30 || !s.idle) {
        if (submitted < 30 && rand() < 0.5) {
          const prompt = [
            ...prefixes[Math.floor(rand() * 3)]!,
            ...Array.from({ length: 1 + Math.floor(rand() * 10) }, () => 3 + Math.floor(rand() * 300)),
          ];
          const r: Req = { id: `r${submitted++}`, prompt, max: 1 + Math.floor(rand() * 30), toks: [] };
          reqs.push(r);
          const ok = s.submit({ id: r.id, inputIds: prompt, sampling: {}, maxNewTokens: r.max }, (ev) => {
            if (ev.type === "token") r.toks.push(ev.tokenId);
            else r.end = ev;
          });
          assert.ok(ok.ok);
        }
        if (rand() < 0.05 && reqs.length > 0)
          s.abort(reqs[Math.floor(rand() * reqs.length)]!.id, { kind: "client" });
        const b = s.schedule();
        if (b) {
          const pending = e.step(b.steps);
          if (rand() < 0.05) s.abort(b.seqs[0]!.id, { kind: "explicit" });
          s.postProcess(b, await pending);
        }
        assert.deepEqual(s.checkIntegrity(), [], `seed ${seed} step ${steps}`);
        if (++steps > 5000) throw new Error("no progress");
      }
      const st = s.stats();
      preemptions += st.preemptionsTotal;
      cachedTokens += st.cachedTokensTotal;
      assert.equal(st.kvBlocksFree + st.kvBlocksEvictable, st.kvBlocksTotal);
      for (const r of reqs) {
        assert.ok(r.end, `${r.id} ended`);
        const want = await solo(r.prompt, r.max);
        if (r.end.type === "finished" && r.end.reason === "length") assert.deepEqual(r.toks, want, r.id);
        else
          assert.deepEqual(
            r.toks,
            want.slice(0, r.toks.length),
            `${r.id} (aborted) is a prefix of the solo run`,
          );
      }
    }
  }
  assert.ok(preemptions > 0, "the pool was tight enough to preempt");
  assert.ok(cachedTokens > 0, "prefixes were reused");
});
