/**
 * The router's cluster layer (ClusterRouting) against the worker's (WorkerClusterAgent), with real
 * redis-server and nats-server but no engine: worker agents register and publish their radix
 * caches; the router side follows joins / leaves into a worker set, resyncs its index from
 * snapshots, routes a shared-prefix workload to the holders, and counts decisions in metrics.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { WorkerClusterAgent } from "@radixserve/cluster";
import { BlockAllocator, blockHashSeed, chainHashes, RadixCache, setLogLevel } from "@radixserve/core";
import type { WorkerView } from "@radixserve/router";
import { ClusterRouting } from "@radixserve/router";
import { Registry } from "prom-client";
import { type Service, startNats, startRedis, until } from "./services.js";

setLogLevel(process.env["RADIXSERVE_LOG_LEVEL"] ?? "warn");

const BS = 16;
const SEED = blockHashSeed("cluster-routing-test");

class FakeWorker {
  readonly allocator = new BlockAllocator(1024);
  readonly cache = new RadixCache(this.allocator);
  readonly agent: WorkerClusterAgent;
  constructor(
    readonly address: string,
    redisUrl: string,
    natsUrl: string,
  ) {
    this.agent = new WorkerClusterAgent({
      redisUrl,
      natsUrl,
      ttlMs: 1000,
      cache: this.cache,
      record: {
        workerId: address,
        grpcAddress: address,
        role: "unified",
        model: "tiny",
        tpSize: 1,
        kvCapacityBlocks: 1024,
        blockSize: BS,
        version: "0.1.0",
      },
      load: () => ({ running: 0, queued: 0, kvBlocksFree: 1000, kvBlocksTotal: 1024, tokensPerS: 0 }),
      loadIntervalMs: 100,
    });
  }
  /** Serves a prompt: its full blocks enter the cache (as the scheduler does after prefill). */
  serve(tokens: number[]): void {
    const hashes = chainHashes(SEED, tokens, BS);
    const hit = this.cache.matchPrefix(hashes);
    this.allocator.incRef(hit.blockIds);
    const blocks = [...hit.blockIds, ...(this.allocator.allocate(hashes.length - hit.blockIds.length) ?? [])];
    this.cache.insert(hashes, blocks);
    this.allocator.decRef(blocks);
  }
}

/** A worker set the way the pool keeps it, with in-flight counts for the views. */
class FakePool {
  readonly members = new Set<string>();
  addWorker(a: string): void {
    this.members.add(a);
  }
  removeWorker(a: string): boolean {
    return this.members.delete(a);
  }
  snapshot() {
    return [...this.members].map((address) => ({ address, load: { cacheHitRate: 0.5 } }));
  }
  views(): WorkerView[] {
    return [...this.members].map((id) => ({
      id,
      inFlight: 0,
      inFlightBlocks: 0,
      queued: 0,
      kvBlocksFree: 1000,
      kvBlocksTotal: 1024,
    }));
  }
}

const prompt = (g: number, q: number) => [
  ...Array.from({ length: 64 }, (_, i) => (g * 53 + i * 7) % 1000),
  ...Array.from({ length: 16 }, (_, i) => 2000 + ((q * 31 + i) % 500)),
];

describe("cluster/cluster-routing (real redis-server + nats-server, no engine)", () => {
  let redis: Service;
  let nats: Service;
  before(async () => {
    [redis, nats] = await Promise.all([startRedis(), startNats()]);
  });
  after(async () => {
    await Promise.all([redis?.stop(), nats?.stop()]);
  });

  it("follows the workers, resyncs their caches and routes each group to its holder", async () => {
    const workers = ["127.0.0.1:9001", "127.0.0.1:9002", "127.0.0.1:9003"].map(
      (a) => new FakeWorker(a, redis.url, nats.url),
    );
    // Workers hold groups before any router exists.
    workers[0]!.serve(prompt(0, 0));
    workers[1]!.serve(prompt(1, 0));
    workers[2]!.serve(prompt(2, 0));
    await Promise.all(workers.map((w) => w.agent.start()));
    const pool = new FakePool();
    const cr = new ClusterRouting({
      policy: "cache_aware:cache_threshold=0.5",
      redisUrl: redis.url,
      natsUrl: nats.url,
      discoveryScanMs: 100,
      roles: ["unified"],
    });
    const registry = new Registry();
    cr.registerMetrics(registry);
    try {
      await cr.start(pool);
      assert.ok(await until(() => pool.members.size === 3, 3000), "discovered the three workers");
      assert.ok(
        await until(() => workers.every((w) => cr.kv.follower.isSynced(w.address)), 5000),
        "every worker's cache resynced from its snapshot",
      );
      for (let g = 0; g < 3; g++) {
        for (let q = 1; q <= 3; q++) {
          const hashes = chainHashes(SEED, prompt(g, q), BS);
          const pick = cr.selector.select({ key: `g${g}q${q}`, hashes }, pool.views());
          assert.equal(pick.worker.id, workers[g]!.address, `group ${g} went to its holder`);
          assert.equal(pick.reason, "cache_hit");
          assert.equal(pick.matchedBlocks, 4);
        }
      }
      // A live event: worker 2 now also caches group 0's prefix with a longer tail.
      workers[2]!.serve([...prompt(0, 9), ...prompt(5, 5)]);
      const longer = chainHashes(SEED, [...prompt(0, 9), ...prompt(5, 5), 1, 2, 3], BS);
      assert.ok(
        await until(() => cr.kv.index.match(longer).get(workers[2]!.address) === 10, 3000),
        "stored event",
      );
      const text = await registry.metrics();
      assert.match(
        text,
        /radixserve_router_routing_decisions_total\{stage="unified",policy="cache_aware",reason="cache_hit"\} (\d+)/,
      );
      assert.match(text, /radixserve_router_kv_index_blocks\{worker="127.0.0.1:9001",kind="exact"\} 5/);
      assert.match(text, /radixserve_router_kv_events_up 1/);
      assert.match(text, /radixserve_router_discovery_up 1/);
      assert.match(text, /radixserve_router_worker_cache_hit_rate\{worker="127.0.0.1:9001"\} 0.5/);
      assert.match(text, /radixserve_router_kv_resyncs_total\{reason="joined"\} 3/);
      assert.ok(
        (cr.reportedLoad(workers[0]!.address)?.kvBlocksFree ?? 0) === 1000 ||
          (await until(() => cr.reportedLoad(workers[0]!.address) !== null, 2000)),
      );

      // Graceful leave: the worker set and the index drop it.
      await workers[1]!.agent.stop();
      assert.ok(await until(() => pool.members.size === 2, 1000), "graceful leave");
      assert.equal(cr.kv.index.workerStats(workers[1]!.address).exactBlocks, 0);
      const g1 = cr.selector.select({ key: "g1", hashes: chainHashes(SEED, prompt(1, 7), BS) }, pool.views());
      assert.notEqual(g1.worker.id, workers[1]!.address);
      assert.equal(g1.reason, "least_loaded");
    } finally {
      await Promise.all(workers.map((w) => w.agent.stop()));
      await cr.stop();
    }
  });
});
