import assert from "node:assert/strict";
import { test } from "node:test";
import { AdmissionQueue } from "../src/workers/admission-queue.js";

test("admission queue: slots, FIFO waiters, 429 when the queue is full, timeout, abort", async () => {
  const q = new AdmissionQueue(2, 2, 200);
  const a = await q.acquire();
  const b = await q.acquire();
  assert.ok(a.ok && b.ok);
  const order: string[] = [];
  const c = q.acquire().then((r) => {
    order.push("c");
    return r;
  });
  const d = q.acquire().then((r) => {
    order.push("d");
    return r;
  });
  const full = await q.acquire();
  assert.ok(!full.ok);
  assert.equal(full.error.code, "queue_full");
  assert.equal(full.error.httpStatus, 429);
  assert.equal(q.queued, 2);
  a.value();
  a.value(); // idempotent: hands over one slot only
  const rc = await c;
  assert.ok(rc.ok);
  assert.equal(q.queued, 1);
  b.value();
  const rd = await d;
  assert.ok(rd.ok);
  assert.deepEqual(order, ["c", "d"]);
  assert.equal(q.inUse, 2);
  // Both slots held: a waiter times out with queue_full; an aborted one leaves at once.
  const late = await q.acquire();
  assert.ok(!late.ok);
  assert.match(late.error.message, /Waited 200 ms/);
  const ac = new AbortController();
  const gone = q.acquire(ac.signal);
  ac.abort();
  const rg = await gone;
  assert.ok(!rg.ok);
  assert.equal(rg.error.code, "aborted");
  rc.value();
  rd.value();
  assert.equal(q.inUse, 0);
  assert.equal(q.queued, 0);
  // Unlimited: never waits.
  const u = new AdmissionQueue(0, 0, 1);
  for (let i = 0; i < 5; i++) assert.ok((await u.acquire()).ok);
});

test("admission queue: a waiter that times out gets queue_full", async () => {
  const q = new AdmissionQueue(1, 1, 50);
  const a = await q.acquire();
  assert.ok(a.ok);
  const t0 = Date.now();
  const w = await q.acquire();
  assert.ok(!w.ok);
  assert.equal(w.error.code, "queue_full");
  assert.ok(Date.now() - t0 >= 45);
  assert.equal(q.queued, 0);
  a.value();
  assert.equal(q.inUse, 0);
});
