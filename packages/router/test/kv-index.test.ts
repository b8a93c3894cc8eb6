import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { KvEventBatch, KvSnapshot } from "@radixserve/cluster";
import { blockHashSeed, chainHashes } from "@radixserve/core";
import { KvEventFollower } from "../src/kv-index/kv-event-follower.js";
import { type IndexedBlock, KvIndex } from "../src/kv-index/kv-index.js";

const SEED = blockHashSeed("kv-index-test");

function chain(group: number, blocks: number): string[] {
  return chainHashes(
    SEED,
    Array.from({ length: blocks * 4 }, (_, i) => group * 997 + i),
    4,
  );
}

function blocksOf(hashes: string[]): IndexedBlock[] {
  return hashes.map((hash, i) => ({ hash, parent: i > 0 ? hashes[i - 1]! : null }));
}

describe("kv-index/KvIndex", () => {
  it("matches the longest contiguous prefix per worker", () => {
    const ix = new KvIndex();
    const h = chain(1, 6);
    ix.applyStored("a", blocksOf(h.slice(0, 4)));
    ix.applyStored("b", blocksOf(h.slice(0, 2)));
    ix.applyStored("c", blocksOf(chain(2, 3)));
    assert.deepEqual(Object.fromEntries(ix.match(h)), { a: 4, b: 2 });
    assert.equal(ix.size, 7);
    assert.deepEqual(ix.checkIntegrity(), []);
  });

  it("a worker that lost an inner block matches only up to it", () => {
    const ix = new KvIndex();
    const h = chain(3, 5);
    ix.applyStored("a", blocksOf(h));
    ix.applyRemoved("a", [h[2]!]);
    assert.deepEqual(Object.fromEntries(ix.match(h)), { a: 2 });
    ix.applyRemoved("a", ["ffffffffffffffff"]); // unknown: ignored
    assert.deepEqual(ix.checkIntegrity(), []);
  });

  it("removing blocks and workers frees nodes no one holds", () => {
    const ix = new KvIndex();
    const h = chain(4, 3);
    ix.applyStored("a", blocksOf(h));
    ix.applyStored("b", blocksOf(h.slice(0, 1)));
    ix.removeWorker("a");
    assert.equal(ix.size, 1);
    assert.deepEqual(Object.fromEntries(ix.match(h)), { b: 1 });
    ix.replaceWorker("b", []);
    assert.equal(ix.size, 0);
    assert.deepEqual(ix.checkIntegrity(), []);
  });

  it("approximate entries expire, respect capacity, and become exact on a stored event", () => {
    const ix = new KvIndex({ approxCapacity: 5 });
    const h = chain(5, 4);
    ix.insertApproximate("a", h, 1000, 100);
    assert.deepEqual(ix.workerStats("a"), { exactBlocks: 0, approxBlocks: 4 });
    ix.applyStored("a", blocksOf(h.slice(0, 2)));
    assert.deepEqual(ix.workerStats("a"), { exactBlocks: 2, approxBlocks: 2 });
    assert.equal(ix.pruneExpired(1099), 0);
    assert.equal(ix.pruneExpired(1100), 2);
    assert.deepEqual(Object.fromEntries(ix.match(h)), { a: 2 });
    // Capacity 5: the oldest approximate entries go first.
    const g = chain(6, 7);
    ix.insertApproximate("a", g, 2000, Number.POSITIVE_INFINITY);
    assert.equal(ix.workerStats("a").approxBlocks, 5);
    assert.deepEqual(Object.fromEntries(ix.match(g)), {}); // the first blocks of g were dropped
    assert.deepEqual(ix.checkIntegrity(), []);
  });

  it("keeps exact matches past 32 workers, and reuses a departed worker's slot", () => {
    const ix = new KvIndex();
    const h = chain(7, 4);
    for (let w = 0; w < 40; w++) ix.applyStored(`w${w}`, blocksOf(h.slice(0, 1 + (w % 4))));
    const m = ix.match(h);
    assert.equal(m.size, 40);
    for (let w = 0; w < 40; w++) assert.equal(m.get(`w${w}`), 1 + (w % 4), `w${w}`);
    ix.removeWorker("w3");
    ix.applyStored("late", blocksOf(h.slice(0, 2)));
    const again = ix.match(h, m); // the map passed in is cleared and refilled
    assert.equal(again, m);
    assert.equal(again.get("w3"), undefined);
    assert.equal(again.get("late"), 2);
    assert.equal(again.get("w39"), 4);
    assert.deepEqual(ix.checkIntegrity(), []);
    for (let w = 0; w < 40; w++) ix.removeWorker(`w${w}`);
    ix.removeWorker("late");
    assert.equal(ix.size, 0);
    assert.deepEqual(Object.fromEntries(ix.match(h)), {});
  });
});

function batch(
  workerId: string,
  instanceId: string,
  eventId: number,
  events: KvEventBatch["events"],
): KvEventBatch {
  return { v: 1, workerId, instanceId, eventId, events };
}

describe("kv-index/KvEventFollower", () => {
  function setup(snapshots: Map<string, KvSnapshot | null>) {
    const index = new KvIndex();
    const asked: string[] = [];
    let now = 0;
    const follower = new KvEventFollower({
      index,
      now: () => now,
      syncedApproxTtlMs: 50,
      requestSnapshot: async (id) => {
        asked.push(id);
        const s = snapshots.get(id);
        return s ? { ok: true, value: s } : { ok: false, reason: "no answer" };
      },
    });
    return { index, follower, asked, advance: (ms: number) => (now += ms) };
  }
  const tick = () => new Promise((r) => setImmediate(r));

  it("syncs a joining worker from its snapshot, then applies the next batches in order", async () => {
    const h = chain(7, 4);
    const { index, follower, asked } = setup(
      new Map([
        ["w1", { v: 1, workerId: "w1", instanceId: "i1", eventId: 3, blocks: blocksOf(h.slice(0, 2)) }],
      ]),
    );
    follower.setEventsUp(true);
    follower.workerJoined("w1");
    // A batch arriving during the resync is buffered, then applied after the snapshot.
    follower.applyBatch(batch("w1", "i1", 4, [{ type: "stored", blocks: blocksOf(h).slice(2, 3) }]));
    await tick();
    assert.deepEqual(asked, ["w1"]);
    assert.ok(follower.isSynced("w1"));
    assert.deepEqual(Object.fromEntries(index.match(h)), { w1: 3 });
    follower.applyBatch(batch("w1", "i1", 3, [{ type: "removed", hashes: [h[0]!] }])); // old: ignored
    follower.applyBatch(batch("w1", "i1", 5, [{ type: "removed", hashes: [h[2]!] }]));
    assert.deepEqual(Object.fromEntries(index.match(h)), { w1: 2 });
    assert.equal(follower.stats.batchesIgnored, 1);
  });

  it("an event-id gap triggers a resync from a snapshot", async () => {
    const h = chain(8, 3);
    const snaps = new Map<string, KvSnapshot | null>([
      ["w1", { v: 1, workerId: "w1", instanceId: "i1", eventId: 0, blocks: [] }],
    ]);
    const { index, follower, asked } = setup(snaps);
    follower.setEventsUp(true);
    follower.workerJoined("w1");
    await tick();
    follower.applyBatch(batch("w1", "i1", 1, [{ type: "stored", blocks: blocksOf(h.slice(0, 1)) }]));
    snaps.set("w1", { v: 1, workerId: "w1", instanceId: "i1", eventId: 9, blocks: blocksOf(h) });
    follower.applyBatch(batch("w1", "i1", 7, [{ type: "removed", hashes: [h[0]!] }])); // 2..6 lost
    assert.equal(follower.stats.gaps, 1);
    await tick();
    assert.deepEqual(asked, ["w1", "w1"]);
    assert.deepEqual(Object.fromEntries(index.match(h)), { w1: 3 }); // the snapshot, not batch 7
  });

  it("a new worker instance (restart) resyncs; a failed snapshot is retried on tick", async () => {
    const h = chain(9, 2);
    const snaps = new Map<string, KvSnapshot | null>([["w1", null]]);
    const { index, follower, asked } = setup(snaps);
    follower.setEventsUp(true);
    follower.applyBatch(batch("w1", "i2", 1, [{ type: "stored", blocks: blocksOf(h) }]));
    await tick();
    assert.equal(follower.stats.resyncFailures, 1);
    assert.ok(!follower.isSynced("w1"));
    snaps.set("w1", { v: 1, workerId: "w1", instanceId: "i2", eventId: 1, blocks: blocksOf(h) });
    follower.tick();
    await tick();
    assert.deepEqual(asked, ["w1", "w1"]);
    assert.ok(follower.isSynced("w1"));
    assert.deepEqual(Object.fromEntries(index.match(h)), { w1: 2 });
  });

  it("without events routes are approximate and persist; with events they expire unless confirmed", async () => {
    const h = chain(10, 3);
    const { index, follower, advance } = setup(
      new Map([["w1", { v: 1, workerId: "w1", instanceId: "i1", eventId: 0, blocks: [] }]]),
    );
    follower.workerJoined("w1"); // NATS absent: no resync
    follower.routed("w1", h);
    advance(10_000);
    follower.tick();
    assert.deepEqual(Object.fromEntries(index.match(h)), { w1: 3 });
    follower.setEventsUp(true); // resync replaces the approximate view by the (empty) snapshot
    await tick();
    assert.deepEqual(Object.fromEntries(index.match(h)), {});
    follower.routed("w1", h);
    follower.applyBatch(batch("w1", "i1", 1, [{ type: "stored", blocks: blocksOf(h.slice(0, 1)) }]));
    advance(51);
    follower.tick();
    assert.deepEqual(Object.fromEntries(index.match(h)), { w1: 1 }); // confirmed block stays
    follower.setEventsUp(false);
    assert.ok(!follower.isSynced("w1"));
    follower.workerLeft("w1");
    assert.equal(index.size, 0);
    assert.deepEqual(index.checkIntegrity(), []);
  });
});
