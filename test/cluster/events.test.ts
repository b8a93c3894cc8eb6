/**
 * KV events over a real nats-server: a worker-side radix cache publishes stored / removed blocks,
 * the router-side follower mirrors them into its KvIndex, resyncs from a snapshot when it joins
 * late, and recovers from a NATS restart (events lost meanwhile -> gap -> snapshot).
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { KvEventPublisher, KvEventSubscriber, type LoadReport, NatsLink } from "@radixserve/cluster";
import { BlockAllocator, blockHashSeed, chainHashes, RadixCache, setLogLevel } from "@radixserve/core";
import { KvEventFollower, KvIndex } from "@radixserve/router";
import { type Service, startNats, until } from "./services.js";

setLogLevel(process.env["RADIXSERVE_LOG_LEVEL"] ?? "warn");

const BS = 4;
const SEED = blockHashSeed("events-test");

/** A worker's cache: allocate, insert and release like the scheduler does. */
class FakeWorkerCache {
  readonly allocator = new BlockAllocator(256);
  readonly cache = new RadixCache(this.allocator);
  run(tokens: number[]): string[] {
    const hashes = chainHashes(SEED, tokens, BS);
    const hit = this.cache.matchPrefix(hashes);
    this.allocator.incRef(hit.blockIds);
    const fresh = this.allocator.allocate(hashes.length - hit.blockIds.length);
    assert.ok(fresh);
    const blocks = [...hit.blockIds, ...fresh];
    this.cache.insert(hashes, blocks);
    this.allocator.decRef(blocks);
    return hashes;
  }
}

const tokens = (g: number, n: number) => Array.from({ length: n }, (_, i) => g * 101 + i);

describe("cluster/events (real nats-server)", () => {
  let nats: Service;
  before(async () => {
    nats = await startNats();
  });
  after(async () => {
    await nats?.stop();
  });

  it("the router's index mirrors a worker's cache, across a late join and a NATS restart", async () => {
    const workerLink = new NatsLink({ servers: nats.url, retryMs: 100 });
    const routerLink = new NatsLink({ servers: nats.url, retryMs: 100 });
    const w = new FakeWorkerCache();
    const pub = new KvEventPublisher({
      link: workerLink,
      workerId: "127.0.0.1:7001",
      snapshot: () => w.cache.entries(),
      load: () => ({ running: 1, queued: 2, kvBlocksFree: 200, kvBlocksTotal: 256, tokensPerS: 10 }),
      loadIntervalMs: 50,
    });
    w.cache.setListener(pub);
    const index = new KvIndex();
    const loads: LoadReport[] = [];
    let follower: KvEventFollower | null = null;
    const sub = new KvEventSubscriber({
      link: routerLink,
      onBatch: (b) => follower?.applyBatch(b),
      onLoad: (r) => loads.push(r),
    });
    follower = new KvEventFollower({ index, requestSnapshot: (id) => sub.requestSnapshot(id, 1000) });
    // As KvSync does: upkeep retries a resync that failed (e.g. asked before the worker reconnected).
    const ticker = setInterval(() => follower?.tick(), 100);
    try {
      workerLink.start();
      pub.start();
      assert.ok(await workerLink.waitConnected(5000));
      // The worker caches things before the router exists: the router must resync to see them.
      const h1 = w.run(tokens(1, 20)); // 5 blocks
      pub.flush();
      routerLink.on("status", (up: boolean) => follower!.setEventsUp(up));
      routerLink.start();
      sub.start();
      assert.ok(await routerLink.waitConnected(5000));
      follower.setEventsUp(true);
      follower.workerJoined("127.0.0.1:7001");
      assert.ok(await until(() => follower!.isSynced("127.0.0.1:7001"), 3000), "synced from snapshot");
      assert.equal(index.match(h1).get("127.0.0.1:7001"), 5);

      // Live events: a new branch is stored, then eviction removes it.
      const h2 = w.run([...tokens(1, 8), ...tokens(2, 8)]);
      assert.ok(await until(() => index.match(h2).get("127.0.0.1:7001") === 4, 2000), "stored event applied");
      w.cache.evict(2); // LRU leaves: h1's tail blocks (older)
      assert.ok(
        await until(() => index.match(h1).get("127.0.0.1:7001") === 3, 2000),
        "removed event applied",
      );
      assert.ok(await until(() => loads.length > 0, 2000), "load reports arrive");
      assert.equal(loads[0]!.queued, 2);
      assert.equal(follower.stats.gaps, 0);

      // NATS restarts; the worker changes its cache while NATS is down (those events are lost).
      await nats.kill();
      assert.ok(
        await until(() => !workerLink.connected && !routerLink.connected, 5000),
        "both saw the outage",
      );
      const h3 = w.run(tokens(3, 12));
      w.cache.flush();
      const h4 = w.run(tokens(4, 16));
      pub.flush();
      assert.ok(pub.dropped > 0);
      await nats.start();
      assert.ok(await until(() => workerLink.connected && routerLink.connected, 10_000), "reconnected");
      // events_resumed -> resync: the index equals the worker's cache again.
      assert.ok(
        await until(
          () => follower!.isSynced("127.0.0.1:7001") && index.match(h4).get("127.0.0.1:7001") === 4,
          5000,
        ),
        "resynced after the restart",
      );
      assert.equal(index.match(h1).get("127.0.0.1:7001"), undefined);
      assert.equal(index.match(h3).get("127.0.0.1:7001"), undefined);
      // And live events flow again after it.
      const h5 = w.run(tokens(5, 8));
      assert.ok(await until(() => index.match(h5).get("127.0.0.1:7001") === 2, 3000), "events flow again");
      assert.equal(index.size, w.cache.sizeInfo().cachedBlocks);
      assert.deepEqual(index.checkIntegrity(), []);
    } finally {
      clearInterval(ticker);
      pub.close();
      await workerLink.stop();
      await routerLink.stop();
    }
  });

  it("a gap in event ids (a lost batch) triggers a snapshot resync", async () => {
    const link = new NatsLink({ servers: nats.url, retryMs: 100 });
    const w = new FakeWorkerCache();
    const pub = new KvEventPublisher({
      link,
      workerId: "w-gap",
      snapshot: () => w.cache.entries(),
      load: () => ({ running: 0, queued: 0, kvBlocksFree: 0, kvBlocksTotal: 0, tokensPerS: 0 }),
      loadIntervalMs: 0,
    });
    w.cache.setListener(pub);
    const index = new KvIndex();
    let follower: KvEventFollower | null = null;
    let dropNext = false;
    const sub = new KvEventSubscriber({
      link,
      onBatch: (b) => {
        if (dropNext) {
          dropNext = false; // simulate one message lost in transit
          return;
        }
        follower?.applyBatch(b);
      },
    });
    follower = new KvEventFollower({ index, requestSnapshot: (id) => sub.requestSnapshot(id, 1000) });
    try {
      link.start();
      pub.start();
      sub.start();
      assert.ok(await link.waitConnected(5000));
      follower.setEventsUp(true);
      follower.workerJoined("w-gap");
      assert.ok(await until(() => follower!.isSynced("w-gap"), 3000));
      dropNext = true;
      const a = w.run(tokens(6, 8));
      pub.flush();
      await until(() => !dropNext, 2000);
      const b = w.run(tokens(7, 8));
      pub.flush();
      assert.ok(await until(() => follower!.stats.gaps === 1 && follower!.isSynced("w-gap"), 3000));
      assert.ok(
        await until(() => index.match(a).get("w-gap") === 2 && index.match(b).get("w-gap") === 2, 3000),
      );
      assert.equal(follower.stats.resyncs, 2);
    } finally {
      pub.close();
      await link.stop();
    }
  });

  it("a snapshot larger than NATS's max_payload is truncated to whole prefixes, not lost", async () => {
    const link = new NatsLink({ servers: nats.url, retryMs: 100 });
    const allocator = new BlockAllocator(40_000);
    const cache = new RadixCache(allocator);
    // 1000 chains of 30 blocks: ~30k blocks, ~1.7 MB of JSON.
    for (let g = 0; g < 1000; g++) {
      const hashes = chainHashes(SEED, tokens(g + 100, 120), BS);
      const blocks = allocator.allocate(hashes.length)!;
      cache.insert(hashes, blocks);
      allocator.decRef(blocks);
    }
    const pub = new KvEventPublisher({
      link,
      workerId: "w-big",
      snapshot: () => cache.entries(),
      load: () => ({ running: 0, queued: 0, kvBlocksFree: 0, kvBlocksTotal: 0, tokensPerS: 0 }),
      loadIntervalMs: 0,
    });
    const sub = new KvEventSubscriber({ link, onBatch: () => {} });
    try {
      link.start();
      pub.start();
      sub.start();
      assert.ok(await link.waitConnected(5000));
      const snap = await sub.requestSnapshot("w-big", 5000);
      assert.ok(snap.ok, snap.ok ? "" : snap.reason);
      const n = snap.value.blocks.length;
      assert.ok(n > 10_000 && n < 30_000, `${n} blocks sent`);
      const index = new KvIndex();
      index.replaceWorker("w-big", snap.value.blocks);
      // Parent-first order: every block sent has its parent sent too.
      const sent = new Set(snap.value.blocks.map((b) => b.hash));
      assert.ok(snap.value.blocks.every((b) => b.parent === null || sent.has(b.parent)));
      assert.equal(index.match(chainHashes(SEED, tokens(100, 120), BS)).get("w-big"), 30);
    } finally {
      pub.close();
      await link.stop();
    }
  });
});
