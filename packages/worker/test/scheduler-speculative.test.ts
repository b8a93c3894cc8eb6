// Speculative decoding (prompt lookup) in the scheduler, on the real tiny engine: greedy output is
// identical with and without drafts under continuous batching, max_new_tokens, penalties and stop
// tokens; KV of rejected drafts is rolled back (no leaked blocks, cache integrity holds); drafting
// backs off above the batch-size limit.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { blockHashSeed, makeModel } from "@radixserve/core";
import { type Engine, loadEngine } from "@radixserve/engine-native";
import { EngineLoop } from "../src/scheduler/engine-loop.js";
import type { RequestParams } from "../src/scheduler/request.js";
import { type ScheduledBatch, Scheduler } from "../src/scheduler/scheduler.js";
import {
  type DraftProposer,
  ngramDraft,
  type SpeculativeConfig,
  Speculator,
} from "../src/scheduler/speculation.js";

const NUM_BLOCKS = 96;
let dir: string;
let engine: Engine;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), "radixserve-spec-"));
  engine = await loadEngine({
    modelPath: await makeModel({ preset: "tiny", out: join(dir, "tiny") }),
    kvCacheBlocks: NUM_BLOCKS,
    blockSize: 4,
    threads: 2,
  });
});

after(() => {
  engine?.free();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

interface Result {
  tokens: number[];
  reason: string;
}

type Req = Omit<RequestParams, "id">;

/** Runs the requests together through one scheduler (with or without speculation); each one's output. */
async function run(
  requests: Req[],
  speculative?: SpeculativeConfig,
  onStep?: (b: ScheduledBatch) => void,
  proposer?: DraftProposer,
): Promise<{ results: Result[]; scheduler: Scheduler }> {
  const s = new Scheduler(
    {
      blockSize: 4,
      numBlocks: NUM_BLOCKS,
      maxRunningRequests: 8,
      maxQueuedRequests: 64,
      chunkedPrefillSize: 16,
      maxPrefillTokens: 32,
      maxContextLength: 2048,
      vocabSize: engine.info.vocabSize,
      eosTokenIds: [2],
      enablePrefixCache: true,
      hashSeed: blockHashSeed("spec"),
      ...(speculative ? { speculative } : {}),
    },
    proposer,
  );
  const loop = new EngineLoop(engine, s, undefined, onStep ? { onStep } : {});
  loop.start();
  const results = await Promise.all(
    requests.map(
      (r, i) =>
        new Promise<Result>((resolve, reject) => {
          const tokens: number[] = [];
          const ok = s.submit({ ...r, id: `r${i}` }, (ev) => {
            if (ev.type === "token") tokens.push(ev.tokenId);
            else if (ev.type === "finished") resolve({ tokens, reason: ev.reason });
            else if (ev.type === "error") reject(ev.error);
          });
          if (!ok.ok) reject(ok.error);
        }),
    ),
  );
  await loop.stop();
  return { results, scheduler: s };
}

const repeating = (n: number, period: number, from: number): number[] =>
  Array.from({ length: n }, (_, i) => from + (i % period) * 13);

/**
 * Drafts from known continuations (the random tiny model never repeats itself, so prompt lookup
 * rarely fires on it): the true next tokens with one wrong token at a position that varies with
 * the length, so every accepted length 0..k occurs, and drafts run past stop tokens and limits.
 */
function oracle(requests: Req[], results: Result[]): DraftProposer {
  const full = requests.map((r, i) => [...r.inputIds, ...results[i]!.tokens]);
  return {
    propose(tokens, k) {
      const ref = full.find((f) => f.length > tokens.length && tokens.every((t, j) => f[j] === t));
      if (!ref) return [];
      const d = ref.slice(tokens.length, tokens.length + k);
      const wrong = tokens.length % (k + 2);
      if (wrong < d.length) d[wrong] = (d[wrong]! + 1) % 32000;
      return d;
    },
  };
}

// Drafting here must not depend on step timings (outputs never do).
const NGRAM4: SpeculativeConfig = {
  algorithm: "ngram",
  numDraftTokens: 4,
  maxBatchSize: 8,
  measurePayoff: false,
};

describe("speculative decoding (ngram) in the scheduler", () => {
  test("prompt lookup drafts what followed the latest earlier occurrence of the suffix", () => {
    assert.deepEqual(ngramDraft([5, 6, 7, 8, 9, 5, 6, 7], 3), [8, 9, 5]);
    assert.deepEqual(ngramDraft([1, 2, 3, 1, 2, 4, 1, 2], 2), [4, 1]);
    assert.deepEqual(ngramDraft([1, 2, 3, 4], 3), []);
    assert.deepEqual(ngramDraft([1, 2, 1, 2], 0), []);
  });

  test("greedy output is identical with and without speculation: batched, limits, penalties, stops", async () => {
    const requests: Req[] = [
      { inputIds: repeating(40, 7, 100), sampling: {}, maxNewTokens: 40 },
      { inputIds: repeating(23, 5, 900), sampling: {}, maxNewTokens: 17 },
      { inputIds: repeating(31, 3, 3000), sampling: { repetitionPenalty: 1.3 }, maxNewTokens: 25 },
      { inputIds: repeating(12, 12, 7000), sampling: {}, maxNewTokens: 33, ignoreEos: true },
    ];
    const first = await run(requests);
    // A stop token the plain run emits part-way: with drafts the request must end right there too.
    const stopAt = first.results[0]!.tokens[9]!;
    requests.push({
      inputIds: repeating(40, 7, 100),
      sampling: {},
      maxNewTokens: 40,
      stopTokenIds: [stopAt],
    });
    const plain = await run(requests);
    const spec = await run(requests, NGRAM4, undefined, oracle(requests, plain.results));
    assert.deepEqual(spec.results, plain.results);
    // Prompt lookup itself gives the same output too (it seldom drafts on this model).
    assert.deepEqual((await run(requests, NGRAM4)).results, plain.results);
    assert.equal(spec.results[4]!.reason, "stop");
    assert.ok(spec.results[4]!.tokens.length <= 10);
    const c = spec.scheduler.speculator!.counters;
    assert.ok(c.proposedTokens > 0, "drafts were proposed");
    assert.ok(c.acceptedTokens > 0, "some drafts were accepted");
    assert.ok(
      c.acceptedLength.every((n) => n > 0),
      `every accepted length occurs: ${c.acceptedLength}`,
    );
    assert.equal(
      c.acceptedLength.reduce((a, b) => a + b, 0),
      c.verifySteps,
    );
    for (const r of [plain, spec]) {
      assert.deepEqual(r.scheduler.checkIntegrity(), []);
      assert.equal(r.scheduler.kv.stats().leases, 0);
      r.scheduler.flushCache();
      assert.equal(r.scheduler.kv.stats().free, NUM_BLOCKS, "every block is back once the cache is flushed");
    }
  });

  test("seeded sampling with speculation is reproducible and ends within its limits", async () => {
    const requests = [0, 1].map((i) => ({
      inputIds: repeating(30, 6, 200 + i),
      sampling: { temperature: 0.2, seed: 42 + i }, // peaked: drafts of the plain run are often accepted
      maxNewTokens: 20,
    }));
    const plain = await run(requests);
    const a = await run(requests, NGRAM4, undefined, oracle(requests, plain.results));
    const b = await run(requests, NGRAM4, undefined, oracle(requests, plain.results));
    assert.deepEqual(a.results, b.results);
    assert.ok(a.scheduler.speculator!.counters.acceptedTokens > 0, "drafts were accepted");
    for (const r of a.results) assert.ok(r.tokens.length <= 20);
    assert.deepEqual(a.scheduler.checkIntegrity(), []);
  });

  test("a request with a token mask (structured output) never drafts", async () => {
    const mask = new Uint32Array(1000).fill(0xffffffff); // every token of the tiny model's 32000
    const requests = [
      { inputIds: repeating(20, 4, 600), sampling: { allowedTokens: mask }, maxNewTokens: 10 },
    ];
    const plain = await run(requests);
    let drafted = 0;
    const r = await run(
      requests,
      NGRAM4,
      (b) => {
        drafted += b.steps.filter((st) => (st.numDraft ?? 0) > 0).length;
      },
      oracle(requests, plain.results),
    );
    assert.deepEqual(r.results, plain.results);
    assert.equal(drafted, 0);
  });

  test("measured pay-off: drafting stops while drafting steps produce fewer tokens per second", () => {
    const sp = new Speculator({ algorithm: "ngram", numDraftTokens: 4, maxBatchSize: 8 });
    const allowed = (n: number) => Array.from({ length: n }, () => sp.stepAllowed(1));
    assert.ok(allowed(3).every(Boolean), "drafts before anything is measured");
    assert.equal(sp.stepAllowed(1), false, "every 4th step is plain until plain steps are measured");
    sp.recordStep(false, 1, 10); // plain: 0.1 token/ms
    sp.recordStep(true, 2, 40); // drafting: 0.05 token/ms
    const next = allowed(32);
    assert.equal(next.filter(Boolean).length, 2, "only the probe steps draft");
    sp.recordStep(true, 5, 20); // drafting pays again: 0.25 token/ms pulls its average above plain
    sp.recordStep(true, 5, 20);
    sp.recordStep(true, 5, 20);
    assert.ok(allowed(8).every(Boolean));
    assert.equal(sp.stepAllowed(100), false, "above the batch-size limit nobody drafts");
  });

  test("no drafting in a step with more decoding requests than the speculative max batch size", async () => {
    const requests = [0, 1, 2].map((i) => ({
      inputIds: repeating(20, 4, 500 + i),
      sampling: {},
      maxNewTokens: 12 * (i + 1), // the last one decodes alone at the end
    }));
    let draftedInBusyStep = 0;
    let draftedAlone = 0;
    const plain = await run(requests);
    const r = await run(
      requests,
      { ...NGRAM4, maxBatchSize: 1 },
      (b) => {
        const drafted = b.steps.filter((st) => (st.numDraft ?? 0) > 0).length;
        if (b.numDecodeTokens > 1) draftedInBusyStep += drafted;
        else draftedAlone += drafted;
      },
      oracle(requests, plain.results),
    );
    assert.deepEqual(r.results, plain.results);
    assert.equal(draftedInBusyStep, 0, "a step with two or more decodes carried drafts");
    assert.ok(draftedAlone > 0, "a lone decode drafted");
  });
});
