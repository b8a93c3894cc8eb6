/**
 * PrefillScheduler + Scheduler.adoptPrefilled on the scheduler tests' fake engine (whose sampled
 * token hashes every token read back from its KV pool): a prompt prefilled on P, its blocks copied
 * into reserved blocks of D's pool, and decoded on D must give exactly the tokens of one unified
 * scheduler. Also: prefix reuse on P, chunking, release on every path, head-of-line admission.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { PrefillJob } from "../src/disagg/prefill/prefill-job.js";
import { PrefillScheduler } from "../src/disagg/prefill/prefill-scheduler.js";
import { type RequestEvent, Scheduler, type SchedulerConfig } from "../src/scheduler/index.js";
import { FakeEngine, fakeEngineConfig } from "./scheduler-fake-engine.js";

const BS = 4;
const VOCAB = 1000;

function config(over: Partial<SchedulerConfig> = {}): SchedulerConfig {
  return fakeEngineConfig("pd-test", over);
}

const prompt = (n: number, from: number) => Array.from({ length: n }, (_, i) => 3 + ((from + i * 7) % 900));

async function prefillAll(s: PrefillScheduler, e: FakeEngine): Promise<number> {
  let steps = 0;
  for (let b = s.schedule(); b; b = s.schedule()) {
    s.postProcess(b, await e.step(b.steps));
    steps++;
  }
  return steps;
}

async function decodeAll(s: Scheduler, e: FakeEngine): Promise<void> {
  while (!s.idle) {
    const b = s.schedule();
    assert.ok(b);
    s.postProcess(b, await e.step(b.steps));
  }
}

function collect(): { tokens: number[]; end: RequestEvent | null; sink: (e: RequestEvent) => void } {
  const c = { tokens: [] as number[], end: null as RequestEvent | null, sink: (_e: RequestEvent) => {} };
  c.sink = (e) => {
    if (e.type === "token") c.tokens.push(e.tokenId);
    else c.end = e;
  };
  return c;
}

describe("prefill scheduler + adoptPrefilled (fake engine)", () => {
  test("P prefill -> block copy -> D decode gives the unified tokens; every pool ends idle", async () => {
    const prompts = [prompt(3, 1), prompt(4, 2), prompt(13, 3), prompt(22, 4)];
    const maxNew = 6;
    // Unified reference.
    const u = new Scheduler(config());
    const ue = new FakeEngine(64, BS, VOCAB);
    const ref = prompts.map((ids, i) => {
      const c = collect();
      assert.ok(u.submit({ id: `u${i}`, inputIds: ids, sampling: {}, maxNewTokens: maxNew }, c.sink).ok);
      return c;
    });
    await decodeAll(u, ue);

    const p = new PrefillScheduler(config());
    const pe = new FakeEngine(64, BS, VOCAB);
    const d = new Scheduler(config());
    const de = new FakeEngine(64, BS, VOCAB);
    const jobs = prompts.map((ids, i) => {
      const job = new PrefillJob({ id: `r${i}`, inputIds: ids, sampling: {}, maxNewTokens: maxNew });
      let progress = 0;
      job.onProgress = () => progress++;
      assert.ok(p.submit(job).ok);
      return { job, progress: () => progress };
    });
    const steps = await prefillAll(p, pe);
    assert.ok(steps >= 3, "22 tokens at 5 per step take several steps");
    const outs = [];
    for (const [i, { job, progress }] of jobs.entries()) {
      assert.equal(job.status, "computed");
      assert.ok(progress() >= 1);
      const n = Math.ceil(job.promptLen / BS);
      assert.equal(job.blocks.length, n);
      // "Transfer": reserve on D, copy the KV (token slots) of every prompt block.
      const lease = d.kv.acquire([], n)!;
      const blocks = lease.blocks;
      for (let b = 0; b < n; b++)
        de.pool.set(pe.pool.subarray(job.blocks[b]! * BS, (job.blocks[b]! + 1) * BS), blocks[b]! * BS);
      const c = collect();
      const r = d.adoptPrefilled(
        { id: job.id, inputIds: prompts[i]!, sampling: {}, maxNewTokens: maxNew },
        c.sink,
        {
          lease,
          cachedTokens: 0,
          firstToken: job.first!.token,
        },
      );
      assert.ok(r.ok);
      p.release(job);
      outs.push(c);
    }
    await decodeAll(d, de);
    for (let i = 0; i < prompts.length; i++) {
      assert.deepEqual(outs[i]!.tokens, ref[i]!.tokens, `prompt ${i}`);
      assert.equal((outs[i]!.end as { reason: string }).reason, "length");
    }
    assert.deepEqual(p.checkIntegrity(), []);
    assert.deepEqual(d.checkIntegrity(), []);
    assert.ok(p.idle);
    assert.equal(p.kv.stats().free + p.kv.stats().evictable, 64);
    assert.equal(d.kv.stats().free + d.kv.stats().evictable, 64);
  });

  test("P reuses its prefix cache: a second prompt with the same prefix computes only the rest", async () => {
    const p = new PrefillScheduler(config());
    const e = new FakeEngine(64, BS, VOCAB);
    const a = new PrefillJob({ id: "a", inputIds: prompt(17, 9), sampling: {}, maxNewTokens: 1 });
    assert.ok(p.submit(a).ok);
    await prefillAll(p, e);
    const firstA = a.first!.token;
    p.release(a);
    const b = new PrefillJob({
      id: "b",
      inputIds: [...prompt(17, 9).slice(0, 16), 500, 501],
      sampling: {},
      maxNewTokens: 1,
    });
    assert.ok(p.submit(b).ok);
    e.steps = [];
    await prefillAll(p, e);
    assert.equal(b.cachedTokens, 16);
    assert.deepEqual(
      e.steps.flat().map((s) => s.tokens.length),
      [2],
      "only the two new tokens run",
    );
    p.release(b);
    const again = new PrefillJob({ id: "c", inputIds: prompt(17, 9), sampling: {}, maxNewTokens: 1 });
    assert.ok(p.submit(again).ok);
    await prefillAll(p, e);
    assert.equal(again.first!.token, firstA, "same prompt, same first token from cached blocks");
    p.release(again);
    assert.deepEqual(p.checkIntegrity(), []);
  });

  test("release during a step is deferred until the step returns; release is idempotent", async () => {
    const p = new PrefillScheduler(config());
    const e = new FakeEngine(64, BS, VOCAB);
    const job = new PrefillJob({ id: "x", inputIds: prompt(20, 1), sampling: {}, maxNewTokens: 1 });
    assert.ok(p.submit(job).ok);
    const b = p.schedule()!;
    const pending = e.step(b.steps);
    p.release(job);
    assert.equal(job.status, "running", "blocks stay while the engine may write them");
    p.postProcess(b, await pending);
    assert.equal(job.status, "released");
    p.release(job);
    assert.ok(p.idle);
    assert.equal(p.kv.stats().free + p.kv.stats().evictable, 64);
    assert.deepEqual(p.checkIntegrity(), []);
  });

  test("short prompts get steps of their own beside a long one; 0 keeps FCFS steps", async () => {
    const ids = (b: { jobs: PrefillJob[] }) => b.jobs.map((j) => j.id).join(",");
    const run = async (shortPrefillTokens: number) => {
      const p = new PrefillScheduler(
        config({ chunkedPrefillSize: 16, maxPrefillTokens: 64, shortPrefillTokens }),
      );
      const e = new FakeEngine(64, BS, VOCAB);
      const long = new PrefillJob({ id: "long", inputIds: prompt(64, 1), sampling: {}, maxNewTokens: 1 });
      assert.ok(p.submit(long).ok);
      const steps: string[] = [];
      const step = async () => {
        const b = p.schedule();
        assert.ok(b);
        steps.push(ids(b));
        p.postProcess(b, await e.step(b.steps));
      };
      await step(); // the long prompt's first chunk
      // Two short prompts arrive (one behind a longer waiting prompt), then steps run.
      const mid = new PrefillJob({ id: "mid", inputIds: prompt(40, 2), sampling: {}, maxNewTokens: 1 });
      const s1 = new PrefillJob({ id: "s1", inputIds: prompt(6, 3), sampling: {}, maxNewTokens: 1 });
      const s2 = new PrefillJob({ id: "s2", inputIds: prompt(5, 4), sampling: {}, maxNewTokens: 1 });
      for (const j of [mid, s1, s2]) assert.ok(p.submit(j).ok);
      while (!(long.first && mid.first && s1.first && s2.first)) await step();
      for (const j of [long, mid, s1, s2]) p.release(j);
      assert.ok(p.idle);
      assert.deepEqual(p.checkIntegrity(), []);
      return steps;
    };
    const shortFirst = await run(8);
    // s1 and s2 (<= 8 tokens) overtake `mid` and run alone, then the long prompts get their turn.
    assert.equal(shortFirst[1], "s1,s2");
    assert.match(shortFirst[2]!, /^long,mid$/);
    assert.ok(!shortFirst.slice(2).some((s) => s.includes("s")), "the short prompts were done in one step");
    // FCFS: the short prompts share the long prompts' steps (and wait out their chunks).
    const fcfs = await run(0);
    assert.equal(fcfs[1], "long,mid,s1,s2");
  });

  test("a stream of short prompts cannot starve a long one: short-only steps are bounded between its steps", async () => {
    const p = new PrefillScheduler(
      config({ chunkedPrefillSize: 8, maxPrefillTokens: 64, shortPrefillTokens: 8 }),
    );
    const e = new FakeEngine(64, BS, VOCAB);
    const long = new PrefillJob({ id: "long", inputIds: prompt(40, 1), sampling: {}, maxNewTokens: 1 });
    assert.ok(p.submit(long).ok);
    let steps = 0;
    let n = 0;
    while (!long.first) {
      // A new short prompt before every step.
      const s = new PrefillJob({ id: `s${n++}`, inputIds: prompt(4, 10 + n), sampling: {}, maxNewTokens: 1 });
      assert.ok(p.submit(s).ok);
      const b = p.schedule();
      assert.ok(b);
      p.postProcess(b, await e.step(b.steps));
      for (const j of b.jobs) if (j.first && j !== long) p.release(j);
      steps++;
    }
    // 40 tokens in chunks of 8 = 5 long steps; between two, short-only steps of at most 8 / 2 tokens
    // (one 4-token prompt here).
    assert.ok(steps <= 10, `${steps} steps`);
  });

  test("admission is head-of-line and bounded by the pool; invalid prompts are refused", async () => {
    const p = new PrefillScheduler(config({ numBlocks: 8, maxPrefillTokens: 64, chunkedPrefillSize: 64 }));
    const e = new FakeEngine(8, BS, VOCAB);
    const big = new PrefillJob({ id: "big", inputIds: prompt(24, 1), sampling: {}, maxNewTokens: 1 });
    const next = new PrefillJob({ id: "next", inputIds: prompt(12, 2), sampling: {}, maxNewTokens: 1 });
    assert.ok(p.submit(big).ok);
    assert.ok(p.submit(next).ok);
    await prefillAll(p, e);
    assert.equal(big.status, "computed");
    assert.equal(next.status, "waiting", "6 of 8 blocks held by `big`: `next` (3 blocks) waits");
    p.release(big);
    await prefillAll(p, e);
    assert.equal(next.status, "computed");
    p.release(next);
    const bad = p.submit(new PrefillJob({ id: "bad", inputIds: [VOCAB + 5], sampling: {}, maxNewTokens: 1 }));
    assert.equal(bad.ok, false);
    assert.equal(
      p.submit(new PrefillJob({ id: "e", inputIds: [], sampling: {}, maxNewTokens: 1 })).ok,
      false,
    );
  });
});
