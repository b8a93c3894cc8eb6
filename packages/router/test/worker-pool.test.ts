/**
 * WorkerPool against fake workers over real gRPC: least-loaded picks, lease accounting, health,
 * and the gateway's retry on another worker when the picked one is gone before its first token.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { runChoice } from "../src/gateway/choice-runner.js";
import { WorkerPool } from "../src/workers/worker-pool.js";
import { FakeCodec } from "./fake-codec.js";
import { FAKE_MODEL, startFakeWorker } from "./fake-worker.js";

const spec = {
  modelId: FAKE_MODEL,
  inputIds: [104, 105],
  maxNewTokens: 3,
  sampling: { temperature: 0 },
  stops: [],
  stopTokenIds: [],
  ignoreEos: false,
  logprobs: null,
};

describe("worker pool", () => {
  it("spreads leases over the least loaded workers and releases each once", async () => {
    const [a, b] = [await startFakeWorker(), await startFakeWorker()];
    const pool = new WorkerPool([a.address, b.address], { pollIntervalMs: 1000 });
    try {
      await pool.start();
      assert.equal(pool.healthyCount(), 2);
      const first = pool.pick(FAKE_MODEL);
      const second = pool.pick(FAKE_MODEL);
      assert.ok(first.ok && second.ok);
      assert.notEqual(
        first.value.worker.address,
        second.value.worker.address,
        "second pick avoids the busy worker",
      );
      first.value.release();
      first.value.release(); // idempotent
      const third = pool.pick(FAKE_MODEL);
      assert.ok(third.ok);
      assert.equal(
        third.value.worker.address,
        first.value.worker.address,
        "the freed worker is the least loaded",
      );
      second.value.release();
      third.value.release();
      assert.deepEqual(
        pool.snapshot().map((w) => w.inFlight),
        [0, 0],
      );
      const wrong = pool.pick("other-model");
      assert.ok(!wrong.ok);
      assert.equal(wrong.error.code, "no_worker");
    } finally {
      pool.stop();
      await a.close();
      await b.close();
    }
  });

  it("marks a stopped worker unhealthy at the next poll", async () => {
    const w = await startFakeWorker();
    const pool = new WorkerPool([w.address], { pollIntervalMs: 50 });
    const changes: boolean[] = [];
    pool.on("health", (_addr: string, healthy: boolean) => changes.push(healthy));
    try {
      await pool.start();
      assert.equal(pool.healthyCount(), 1);
      await w.close();
      const until = Date.now() + 5000;
      while (pool.healthyCount() > 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
      assert.equal(pool.healthyCount(), 0);
      assert.deepEqual(changes, [true, false]);
    } finally {
      pool.stop();
    }
  });

  it("retries on another worker when the picked one is gone before its first token", async () => {
    const [a, b] = [await startFakeWorker(), await startFakeWorker()];
    // A long poll period: the pool still believes the dead worker is healthy when we dispatch.
    const pool = new WorkerPool([a.address, b.address], { pollIntervalMs: 10_000 });
    try {
      await pool.start();
      a.kill();
      b.kill();
      // Both known workers are dead now: one retry, then a clean no_worker error (never a hang).
      const gen = runChoice({ pool, codec: new FakeCodec() }, spec, new AbortController().signal);
      await assert.rejects(
        (async () => {
          for await (const _ of gen);
        })(),
        (err: { code?: string }) => err.code === "no_worker",
      );
      assert.deepEqual(
        pool.snapshot().map((w) => w.inFlight),
        [0, 0],
      );
    } finally {
      pool.stop();
    }
  });

  it("a dead worker's request moves to a live one", async () => {
    const [a, b] = [await startFakeWorker(), await startFakeWorker()];
    const pool = new WorkerPool([a.address, b.address], { pollIntervalMs: 10_000 });
    try {
      await pool.start();
      a.kill(); // a is the first pick (ties go to the first listed worker)
      const events = [];
      for await (const ev of runChoice({ pool, codec: new FakeCodec() }, spec, new AbortController().signal))
        events.push(ev);
      assert.equal(events.at(-1)?.kind, "end");
      assert.equal(b.requests.length, 1, "served by the live worker");
      assert.equal(pool.snapshot()[0]!.healthy, false, "the dead one is marked at once");
    } finally {
      pool.stop();
      await b.close();
    }
  });
});
