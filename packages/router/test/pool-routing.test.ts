/**
 * The worker pool with a routing policy (RouteSelector): cache-aware picks over real gRPC fake
 * workers, load counters that move at dispatch and come back on every exit path (finish, worker
 * error, client abort), and a worker set that changes at run time (discovery joins / leaves).
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { runChoice } from "../src/gateway/choice-runner.js";
import { KvIndex } from "../src/kv-index/kv-index.js";
import { createPolicy } from "../src/policies/registry.js";
import { RouteSelector } from "../src/policies/route-selector.js";
import { WorkerPool } from "../src/workers/worker-pool.js";
import { FakeCodec } from "./fake-codec.js";
import { FAKE_MODEL, type FakeWorker, startFakeWorker } from "./fake-worker.js";

const ids = (g: number, n: number) => Array.from({ length: n }, (_, i) => 1 + ((g * 17 + i) % 200));

describe("workers/pool with a routing policy", () => {
  let fakes: FakeWorker[] = [];
  let pool: WorkerPool;
  let index: KvIndex;
  const reasons: string[] = [];

  before(async () => {
    fakes = await Promise.all([startFakeWorker(), startFakeWorker(), startFakeWorker()]);
    index = new KvIndex();
    const selector = new RouteSelector({
      policy: createPolicy("cache_aware:cache_threshold=0.5"),
      index,
      onDecision: (_p, reason) => reasons.push(reason),
    });
    pool = new WorkerPool([fakes[0]!.address, fakes[1]!.address], { selector, pollIntervalMs: 50 });
    await pool.start();
    await pool.waitHealthy(5000);
  });
  after(async () => {
    pool.stop();
    await Promise.all(fakes.map((f) => f.close()));
  });

  const inFlight = () => pool.snapshot().reduce((s, w) => s + w.inFlight + w.inFlightBlocks, 0);

  it("routes a repeated prefix to the same worker and counts prompt blocks in flight", () => {
    const a = pool.pick(FAKE_MODEL, { key: "a", inputIds: ids(1, 64) });
    assert.ok(a.ok);
    assert.equal(inFlight(), 1 + 4, "one request, four prompt blocks");
    a.value.release();
    a.value.release(); // idempotent
    assert.equal(inFlight(), 0);
    // Same 4-block prefix + a different tail: the index remembers where the prefix went.
    const b = pool.pick(FAKE_MODEL, { key: "b", inputIds: [...ids(1, 64), ...ids(9, 16)] });
    assert.ok(b.ok);
    assert.equal(b.value.worker.address, a.value.worker.address);
    // A new prefix while b runs goes to the other (less loaded) worker.
    const c = pool.pick(FAKE_MODEL, { key: "c", inputIds: ids(3, 64) });
    assert.ok(c.ok);
    assert.notEqual(c.value.worker.address, b.value.worker.address);
    assert.deepEqual(reasons, ["least_loaded", "cache_hit", "least_loaded"]);
    b.value.release();
    c.value.release();
    assert.equal(inFlight(), 0);
  });

  it("load counters come back on finish, worker error and client abort", async () => {
    const codec = new FakeCodec();
    const spec = {
      modelId: FAKE_MODEL,
      inputIds: ids(2, 40),
      maxNewTokens: 5,
      sampling: { temperature: 0 },
      stops: [],
      stopTokenIds: [],
      ignoreEos: true,
      logprobs: null,
    };
    for await (const _ of runChoice({ pool, codec }, spec, new AbortController().signal)) {
    }
    assert.equal(inFlight(), 0, "after a finished request");
    for (const f of fakes) f.failWith = { code: "invalid_request", message: "nope", httpStatus: 400 };
    await assert.rejects(async () => {
      for await (const _ of runChoice({ pool, codec }, spec, new AbortController().signal)) {
      }
    }, /nope/);
    assert.equal(inFlight(), 0, "after a worker error");
    for (const f of fakes) {
      f.failWith = null;
      f.tokenDelayMs = 50;
    }
    const ac = new AbortController();
    const it = runChoice({ pool, codec }, { ...spec, maxNewTokens: 50 }, ac.signal);
    await it.next();
    assert.ok(inFlight() > 0, "counted while running");
    ac.abort();
    for await (const _ of it) {
    }
    assert.equal(inFlight(), 0, "after a client abort");
    for (const f of fakes) f.tokenDelayMs = 1;
  });

  it("adds and removes workers at run time", async () => {
    pool.addWorker(fakes[2]!.address);
    pool.addWorker(fakes[2]!.address); // known: no-op
    assert.equal(pool.snapshot().length, 3);
    const until = Date.now() + 3000;
    while (!pool.snapshot().every((w) => w.healthy) && Date.now() < until)
      await new Promise((r) => setTimeout(r, 20));
    assert.ok(
      pool.snapshot().every((w) => w.healthy),
      "the new worker became healthy",
    );
    assert.ok(pool.removeWorker(fakes[0]!.address));
    assert.ok(!pool.removeWorker(fakes[0]!.address));
    for (let i = 0; i < 6; i++) {
      const p = pool.pick(FAKE_MODEL, { key: `k${i}`, inputIds: ids(i, 20) });
      assert.ok(p.ok);
      assert.notEqual(p.value.worker.address, fakes[0]!.address, "no pick of a removed worker");
      p.value.release();
    }
  });

  it("a worker marked failed stays out for its breaker cooldown, past good health polls", async () => {
    // The client the gateway would hold when its Generate failed with UNAVAILABLE.
    const lease = pool.pick(FAKE_MODEL);
    assert.ok(lease.ok);
    lease.value.release();
    const w1 = lease.value.worker.address;
    const w2 = pool.snapshot().find((w) => w.address !== w1)!.address;
    pool.markFailed(lease.value.worker, "test: UNAVAILABLE");
    await new Promise((r) => setTimeout(r, 200)); // several 50 ms polls succeed meanwhile
    assert.ok(pool.snapshot().find((w) => w.address === w1)!.healthy, "the poll healed its health");
    for (let i = 0; i < 5; i++) {
      const p = pool.pick(FAKE_MODEL, { key: `b${i}`, inputIds: ids(i, 20) });
      assert.ok(p.ok);
      assert.notEqual(p.value.worker.address, w1, "the open breaker keeps it out");
      p.value.release();
    }
    await new Promise((r) => setTimeout(r, 500)); // past the 500 ms cooldown: half-open, then closed by a poll
    // Held concurrently, new prefixes spread by load: the recovered worker takes its share again.
    const held = Array.from({ length: 4 }, (_, i) =>
      pool.pick(FAKE_MODEL, { key: `c${i}`, inputIds: ids(40 + i, 20) }),
    );
    const seen = new Set(held.map((p) => (p.ok ? p.value.worker.address : "")));
    for (const p of held) if (p.ok) p.value.release();
    assert.deepEqual([...seen].sort(), [w1, w2].sort());
  });
});

describe("workers/pool admission queue (--max-pending-requests 1 --queue-size 1)", () => {
  it("queues one request behind the running one and answers 429 beyond", async () => {
    const fake = await startFakeWorker();
    fake.tokenDelayMs = 20;
    const pool = new WorkerPool([fake.address], { maxPendingRequests: 1, queueSize: 1, pollIntervalMs: 50 });
    await pool.start();
    await pool.waitHealthy(5000);
    const codec = new FakeCodec();
    const spec = {
      modelId: FAKE_MODEL,
      inputIds: ids(5, 20),
      maxNewTokens: 5,
      sampling: { temperature: 0 },
      stops: [],
      stopTokenIds: [],
      ignoreEos: true,
      logprobs: null,
    };
    const drain = async (): Promise<string> => {
      for await (const ev of runChoice({ pool, codec }, spec, new AbortController().signal))
        if (ev.kind === "end") return ev.finishReason;
      return "none";
    };
    try {
      const first = drain();
      await new Promise((r) => setTimeout(r, 10));
      const second = drain(); // waits for the slot
      await new Promise((r) => setTimeout(r, 10));
      await assert.rejects(drain(), (err: Error & { code?: string }) => err.code === "queue_full");
      assert.equal(await first, "length");
      assert.equal(await second, "length", "the queued request ran after the first");
      assert.equal(fake.requests.length, 2);
    } finally {
      pool.stop();
      await fake.close();
    }
  });
});
