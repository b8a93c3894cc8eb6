/**
 * KvReserver (decode mode): a reservation matches and locks the cached prefix, takes fresh blocks
 * for the rest (evicting unlocked cache entries, never the matched path), waits FIFO when short,
 * times out with queue_full, and leaves the pool exactly as it found it when released.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { blockHashSeed, chainHashes, RadixServeError } from "@radixserve/core";
import { KvReserver } from "../src/disagg/decode/kv-reserver.js";
import { Scheduler, type SchedulerConfig } from "../src/scheduler/index.js";

const BS = 4;

function scheduler(numBlocks: number): Scheduler {
  const config: SchedulerConfig = {
    blockSize: BS,
    numBlocks,
    maxRunningRequests: 4,
    maxQueuedRequests: 8,
    chunkedPrefillSize: 64,
    maxPrefillTokens: 64,
    maxContextLength: 256,
    vocabSize: 1000,
    eosTokenIds: [2],
    enablePrefixCache: true,
    hashSeed: blockHashSeed("reserver-test"),
  };
  return new Scheduler(config);
}

const tokens = (n: number, from: number) => Array.from({ length: n }, (_, i) => 3 + ((from + i) % 900));

/** Puts `ids` into the cache as if a finished request had left them there (unlocked). */
function cache(s: Scheduler, ids: number[]): number[] {
  const hashes = chainHashes(s.config.hashSeed, ids, BS);
  const lease = s.kv.acquire([], hashes.length)!;
  const blocks = [...lease.blocks];
  s.kv.commit(lease, hashes, false);
  s.kv.release(lease);
  return blocks;
}

const never = new AbortController().signal;

describe("KvReserver", () => {
  test("matches and locks the cached prefix, takes fresh blocks for the rest, releases to the same state", async () => {
    const s = scheduler(16);
    const prompt = tokens(14, 1); // 4 blocks, the last partial
    const cached = cache(s, prompt.slice(0, 8)); // 2 full blocks cached
    const r = new KvReserver(s, 4);
    const hashes = r.hashes(prompt);
    assert.equal(r.cachedBlocks(hashes), 2);
    const res = await r.reserve(hashes, 4, 1000, never);
    assert.equal(res.cachedBlocks, 2);
    assert.deepEqual(res.blocks.slice(0, 2), cached);
    assert.equal(res.blocks.length, 4);
    assert.equal(s.kv.stats().evictable, 0, "the matched path is locked");
    assert.equal(r.outstanding, 1);
    r.release(res);
    assert.equal(r.outstanding, 0);
    assert.equal(s.kv.stats().free, 14);
    assert.equal(s.kv.stats().evictable, 2);
    assert.deepEqual(s.checkIntegrity(), []);
  });

  test("evicts unlocked cache entries when short, but never the prefix it matched", async () => {
    const s = scheduler(8);
    const prompt = tokens(8, 1);
    cache(s, prompt); // 2 blocks: the prompt's own prefix
    cache(s, tokens(16, 500)); // 4 unrelated blocks
    assert.equal(s.kv.stats().free, 2);
    const r = new KvReserver(s, 4);
    const res = await r.reserve(r.hashes([...prompt, ...tokens(16, 50)]), 6, 1000, never);
    assert.equal(res.cachedBlocks, 2, "the matched prefix survived the eviction");
    assert.equal(new Set(res.blocks).size, 6);
    r.release(res);
    assert.deepEqual(s.checkIntegrity(), []);
  });

  test("waits FIFO when the pool is short, serves on release, and times out with queue_full", async () => {
    const s = scheduler(8);
    const r = new KvReserver(s, 4);
    const a = await r.reserve(r.hashes(tokens(24, 1)), 6, 1000, never);
    const b = r.reserve(r.hashes(tokens(12, 100)), 3, 2000, never);
    const c = r.reserve(r.hashes(tokens(4, 200)), 1, 100, never);
    assert.equal(r.queued, 2);
    // c would fit (1 block) but waits behind b: FIFO, and then passes its deadline.
    await assert.rejects(c, (e: unknown) => e instanceof RadixServeError && e.code === "queue_full");
    r.release(a);
    const got = await b;
    assert.equal(got.blocks.length, 3);
    r.release(got);
    assert.equal(r.queued, 0);
    assert.equal(s.kv.stats().free, 8);
  });

  test("a cancelled wait rejects with aborted and leaves the queue", async () => {
    const s = scheduler(4);
    const r = new KvReserver(s, 4);
    const a = await r.reserve(r.hashes(tokens(16, 1)), 4, 1000, never);
    const ac = new AbortController();
    const b = r.reserve(r.hashes(tokens(8, 9)), 2, 5000, ac.signal);
    ac.abort();
    await assert.rejects(b, (e: unknown) => e instanceof RadixServeError && e.code === "aborted");
    assert.equal(r.queued, 0);
    r.release(a);
    assert.equal(s.kv.stats().free, 4);
  });
});
