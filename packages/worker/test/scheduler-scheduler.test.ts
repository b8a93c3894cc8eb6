import assert from "node:assert/strict";
import { test } from "node:test";
import { blockHashSeed } from "@radixserve/core";
import type { SchedulerConfig } from "../src/scheduler/config.js";
import type { RequestEvent, RequestParams } from "../src/scheduler/request.js";
import { Scheduler } from "../src/scheduler/scheduler.js";
import { FakeEngine } from "./scheduler-fake-engine.js";

const VOCAB = 1000;

function config(over: Partial<SchedulerConfig> = {}): SchedulerConfig {
  return {
    blockSize: 4,
    numBlocks: 64,
    maxRunningRequests: 8,
    maxQueuedRequests: 16,
    chunkedPrefillSize: 64,
    maxPrefillTokens: 256,
    maxContextLength: 512,
    vocabSize: VOCAB,
    eosTokenIds: [2],
    enablePrefixCache: true,
    hashSeed: blockHashSeed("sched-test"),
    ...over,
  };
}

interface Collected {
  tokens: number[];
  events: RequestEvent[];
  done: RequestEvent | undefined;
}

function submit(
  s: Scheduler,
  params: Partial<RequestParams> & { id: string; inputIds: number[] },
): Collected {
  const c: Collected = { tokens: [], events: [], done: undefined };
  const r = s.submit({ sampling: {}, maxNewTokens: 8, ...params }, (e) => {
    c.events.push(e);
    if (e.type === "token") c.tokens.push(e.tokenId);
    else c.done = e;
  });
  if (!r.ok) throw r.error;
  return c;
}

async function runToIdle(s: Scheduler, e: FakeEngine, maxSteps = 10_000): Promise<number> {
  let steps = 0;
  while (!s.idle) {
    const b = s.schedule();
    assert.ok(b, "work left but nothing schedulable");
    s.postProcess(b, await e.step(b.steps));
    assert.deepEqual(s.checkIntegrity(), []);
    if (++steps > maxSteps) throw new Error("no progress");
  }
  return steps;
}

function assertIdlePool(s: Scheduler): void {
  const st = s.stats();
  assert.equal(st.kvBlocksFree + st.kvBlocksEvictable, st.kvBlocksTotal, "every block free or evictable");
  assert.deepEqual(s.checkIntegrity(), []);
}

const range = (from: number, n: number): number[] => Array.from({ length: n }, (_, i) => from + i);

test("scheduler: one request runs prefill then decodes to max_new_tokens and frees its blocks", async () => {
  const s = new Scheduler(config());
  const e = new FakeEngine(64, 4, VOCAB);
  const r = submit(s, { id: "a", inputIds: range(10, 10), maxNewTokens: 5 });
  const steps = await runToIdle(s, e);
  assert.equal(steps, 5, "1 prefill step (samples token 1) + 4 decode steps");
  assert.equal(r.tokens.length, 5);
  assert.deepEqual(r.done, {
    type: "finished",
    reason: "length",
    usage: { promptTokens: 10, completionTokens: 5, cachedTokens: 0 },
    matchedStopTokenId: -1,
  });
  // Prompt + 4 computed generated tokens = 14 -> 3 full blocks cached, the partial block freed.
  assert.equal(s.stats().kvBlocksCached, 3);
  assertIdlePool(s);
});

test("scheduler: a shared prefix is reused (cached tokens reported) and gives the same tokens as no cache", async () => {
  const prompts = [
    [...range(100, 33), 7],
    [...range(100, 33), 8, 9],
  ];
  const run = async (enable: boolean) => {
    const s = new Scheduler(config({ enablePrefixCache: enable }));
    const e = new FakeEngine(64, 4, VOCAB);
    const a = submit(s, { id: "a", inputIds: prompts[0]! });
    await runToIdle(s, e);
    const b = submit(s, { id: "b", inputIds: prompts[1]! });
    await runToIdle(s, e);
    return { s, a, b };
  };
  const on = await run(true);
  const off = await run(false);
  assert.deepEqual(on.a.tokens, off.a.tokens);
  assert.deepEqual(on.b.tokens, off.b.tokens);
  const usage = (c: Collected) => (c.done?.type === "finished" ? c.done.usage : undefined);
  assert.equal(usage(on.b)?.cachedTokens, 32, "8 full shared blocks of 4");
  assert.equal(usage(off.b)?.cachedTokens, 0);
  assert.equal(on.s.stats().cacheHitRate, 32 / (34 + 35));
  assert.equal(off.s.stats().kvBlocksCached, 0);
  assertIdlePool(on.s);
  assertIdlePool(off.s);
});

test("scheduler: an identical prompt is matched except its last block, so the last token still runs", async () => {
  const s = new Scheduler(config());
  const e = new FakeEngine(64, 4, VOCAB);
  const a = submit(s, { id: "a", inputIds: range(0, 16), maxNewTokens: 3 });
  await runToIdle(s, e);
  const b = submit(s, { id: "b", inputIds: range(0, 16), maxNewTokens: 3 });
  await runToIdle(s, e);
  assert.deepEqual(b.tokens, a.tokens);
  assert.equal(b.done?.type === "finished" && b.done.usage.cachedTokens, 12);
});

test("scheduler: chunked prefill interleaves with a running decode under the token budget", async () => {
  const s = new Scheduler(config({ chunkedPrefillSize: 16, maxPrefillTokens: 16 }));
  const e = new FakeEngine(64, 4, VOCAB);
  submit(s, { id: "short", inputIds: range(0, 4), maxNewTokens: 20 });
  let b = s.schedule()!;
  s.postProcess(b, await e.step(b.steps));
  submit(s, { id: "long", inputIds: range(500, 40), maxNewTokens: 2 });
  const shapes: string[] = [];
  for (let i = 0; i < 4; i++) {
    b = s.schedule()!;
    shapes.push(b.steps.map((x) => `${x.tokens.length}@${x.startPos}${x.sample ? "s" : ""}`).join(","));
    s.postProcess(b, await e.step(b.steps));
  }
  assert.deepEqual(shapes, ["1@4s,16@0", "1@5s,16@16", "1@6s,8@32s", "1@7s,1@40s"]);
  await runToIdle(s, e);
  assertIdlePool(s);
});

test("scheduler: priority first, FCFS within a priority, max_running_requests respected", async () => {
  const s = new Scheduler(config({ maxRunningRequests: 2 }));
  const e = new FakeEngine(64, 4, VOCAB);
  const order: string[] = [];
  for (const [id, priority] of [
    ["low1", 0],
    ["low2", 0],
    ["high", 5],
  ] as const) {
    s.submit({ id, inputIds: range(0, 5), sampling: {}, maxNewTokens: 2, priority }, (ev) => {
      if (ev.type === "finished") order.push(id);
    });
  }
  const b = s.schedule()!;
  assert.deepEqual(
    b.seqs.map((x) => x.id),
    ["high", "low1"],
  );
  assert.equal(s.stats().running, 2);
  assert.equal(s.stats().queued, 1);
  s.postProcess(b, await e.step(b.steps));
  await runToIdle(s, e);
  assert.deepEqual(order, ["high", "low1", "low2"]);
});

test("scheduler: when KV blocks run out it preempts the newest request, which recomputes to the same tokens", async () => {
  // 12 blocks of 4 = 48 tokens; each request needs up to 6 + ... blocks: together they do not fit.
  const solo = async (id: string, ids: number[]) => {
    const s = new Scheduler(config({ numBlocks: 12, enablePrefixCache: false }));
    const c = submit(s, { id, inputIds: ids, maxNewTokens: 20 });
    await runToIdle(s, new FakeEngine(12, 4, VOCAB));
    return c.tokens;
  };
  const pa = range(0, 10);
  const pb = range(300, 10);
  for (const enable of [false, true]) {
    const s = new Scheduler(config({ numBlocks: 12, enablePrefixCache: enable }));
    const e = new FakeEngine(12, 4, VOCAB);
    const a = submit(s, { id: "a", inputIds: pa, maxNewTokens: 20 });
    const b = submit(s, { id: "b", inputIds: pb, maxNewTokens: 20 });
    await runToIdle(s, e);
    assert.ok(s.stats().preemptionsTotal > 0, "a preemption happened");
    assert.deepEqual(a.tokens, await solo("a", pa), `cache ${enable}: oldest unaffected`);
    assert.deepEqual(
      b.tokens,
      await solo("b", pb),
      `cache ${enable}: preempted request recomputed correctly`,
    );
    assert.equal(b.done?.type === "finished" && b.done.usage.completionTokens, 20);
    assertIdlePool(s);
  }
});

test("scheduler: stop tokens end the request without being streamed; ignoreEos keeps going", async () => {
  const s = new Scheduler(config());
  const e = new FakeEngine(64, 4, VOCAB);
  const probe = submit(s, { id: "probe", inputIds: range(40, 6), maxNewTokens: 6 });
  await runToIdle(s, e);
  const third = probe.tokens[2]!;
  s.flushCache();
  const r = submit(s, { id: "stop", inputIds: range(40, 6), maxNewTokens: 6, stopTokenIds: [third] });
  await runToIdle(s, e);
  assert.deepEqual(r.tokens, probe.tokens.slice(0, 2));
  assert.deepEqual(r.done, {
    type: "finished",
    reason: "stop",
    usage: { promptTokens: 6, completionTokens: 3, cachedTokens: 0 },
    matchedStopTokenId: third,
  });
  // EOS (id 2) from the model config: a fake engine that can sample it.
  const s2 = new Scheduler(config({ eosTokenIds: [third] }));
  const eos = submit(s2, { id: "eos", inputIds: range(40, 6), maxNewTokens: 6 });
  const ign = submit(s2, { id: "ign", inputIds: range(40, 6), maxNewTokens: 6, ignoreEos: true });
  await runToIdle(s2, new FakeEngine(64, 4, VOCAB));
  assert.equal(eos.done?.type === "finished" && eos.done.reason, "stop");
  assert.equal(ign.tokens.length, 6);
});

test("scheduler: abort frees every block at once, also when the request is inside a running step", async () => {
  const s = new Scheduler(config());
  const e = new FakeEngine(64, 4, VOCAB);
  const a = submit(s, { id: "a", inputIds: range(0, 30), maxNewTokens: 50 });
  const q = submit(s, { id: "q", inputIds: range(0, 3), maxNewTokens: 50 });
  assert.equal(s.abort("q", { kind: "client" }), true, "queued abort");
  assert.equal(q.done?.type === "finished" && q.done.reason, "abort");
  for (let i = 0; i < 3; i++) {
    const b = s.schedule()!;
    s.postProcess(b, await e.step(b.steps));
  }
  assert.ok(s.stats().kvBlocksFree < 64);
  const b = s.schedule()!;
  const pending = e.step(b.steps);
  assert.equal(s.abort("a", { kind: "deadline" }), true, "abort during the step");
  assert.equal(a.done, undefined, "honoured after the step");
  s.postProcess(b, await pending);
  const end = a.done as RequestEvent | undefined;
  assert.equal(end?.type === "error" && end.error.code, "deadline_exceeded");
  assert.equal(s.idle, true);
  assert.equal(s.abort("a"), false, "already gone");
  assertIdlePool(s);
  const cached = s.stats().kvBlocksCached;
  assert.ok(cached > 0, "the aborted request's computed blocks stay cached for a retry");
  assert.equal(s.flushCache(), cached);
  assert.equal(s.stats().kvBlocksFree, 64);
});

test("scheduler: bad requests and a full queue are rejected with catalog codes", () => {
  const s = new Scheduler(config({ maxQueuedRequests: 1, numBlocks: 8 }));
  const code = (p: Partial<RequestParams>) => {
    const r = s.submit({ id: "x", inputIds: [1], sampling: {}, maxNewTokens: 4, ...p }, () => {});
    return r.ok ? "ok" : `${r.error.code}: ${r.error.message}`;
  };
  assert.match(code({ inputIds: [] }), /^invalid_request: input_ids is empty/);
  assert.match(code({ inputIds: [1, VOCAB] }), /^invalid_request: input_ids\[1\] = 1000/);
  assert.match(code({ inputIds: [-1] }), /^invalid_request/);
  assert.match(code({ maxNewTokens: 0 }), /^invalid_request: max_new_tokens/);
  assert.match(code({ inputIds: range(0, 600) }), /^prompt_too_long: the prompt has 600 tokens .* 512/);
  assert.match(code({ inputIds: range(0, 500), maxNewTokens: 20 }), /^prompt_too_long: .*520 exceeds .* 512/);
  assert.match(
    code({ inputIds: range(0, 30), maxNewTokens: 10 }),
    /^prompt_too_long: .*needs 10 KV blocks but the pool has 8/,
  );
  assert.match(code({ sampling: { topP: 1.5 } }), /^invalid_request: top_p/);
  assert.equal(code({}), "ok");
  assert.match(code({}), /^invalid_request: request id 'x' is already in use/);
  assert.match(code({ id: "y" }), /^queue_full/);
  s.drain();
  assert.match(code({ id: "z" }), /^draining/);
});
