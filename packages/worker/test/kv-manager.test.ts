import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { blockHashSeed } from "@radixserve/core";
import { KvManager } from "../src/kv/kv-manager.js";

const BS = 4;

function manager(numBlocks: number, enablePrefixCache = true): KvManager {
  return new KvManager({
    numBlocks,
    blockSize: BS,
    hashSeed: blockHashSeed("kv-manager-test"),
    enablePrefixCache,
  });
}

const tokens = (n: number, from: number) => Array.from({ length: n }, (_, i) => 3 + ((from + i) % 900));

describe("KvManager", () => {
  test("acquire hands out fresh blocks in order; release returns them (LIFO reuse)", () => {
    const kv = manager(8);
    const a = kv.acquire([], 3)!;
    assert.deepEqual(a.blocks, [0, 1, 2]);
    assert.equal(a.cachedBlocks, 0);
    const b = kv.acquire([], 2)!;
    assert.deepEqual(b.blocks, [3, 4]);
    assert.deepEqual(kv.stats(), { total: 8, free: 3, evictable: 0, cached: 0, leases: 2 });
    kv.release(a);
    assert.ok(a.released);
    assert.deepEqual(a.blocks, []);
    kv.release(a); // idempotent
    const c = kv.acquire([], 2)!;
    assert.deepEqual(c.blocks, [2, 1], "the most recently freed blocks first");
    assert.deepEqual(kv.checkIntegrity(), []);
  });

  test("acquire is all or nothing: a pool too short changes nothing", () => {
    const kv = manager(4);
    const a = kv.acquire([], 3)!;
    assert.equal(kv.acquire([], 2), null);
    assert.deepEqual(kv.stats(), { total: 4, free: 1, evictable: 0, cached: 0, leases: 1 });
    assert.deepEqual(a.blocks, [0, 1, 2]);
    assert.deepEqual(kv.checkIntegrity(), []);
  });

  test("commit caches full blocks; a later acquire reuses them, locked, and takes fresh ones for the rest", () => {
    const kv = manager(8);
    const prompt = tokens(12, 1); // 3 full blocks
    const hashes = kv.hashes(prompt);
    const a = kv.acquire(hashes, 3)!;
    assert.deepEqual(a.blocks, [0, 1, 2]);
    kv.commit(a, hashes.slice(0, 2)); // first two blocks computed
    assert.equal(kv.match(hashes), 2);
    kv.release(a);
    assert.deepEqual(kv.stats(), { total: 8, free: 6, evictable: 2, cached: 2, leases: 0 });

    const b = kv.acquire(hashes, 4)!;
    assert.equal(b.cachedBlocks, 2);
    assert.deepEqual(b.blocks, [0, 1, 2, 3]);
    assert.equal(kv.stats().evictable, 0, "the matched path is locked while leased");
    kv.release(b);
    assert.equal(kv.stats().evictable, 2);
    assert.deepEqual(kv.checkIntegrity(), []);
  });

  test("acquire evicts unlocked cached blocks (LRU) when the free list is short, never the matched ones", () => {
    const kv = manager(4);
    const older = kv.hashes(tokens(4, 100));
    const newer = kv.hashes(tokens(8, 200));
    for (const h of [older, newer]) {
      const l = kv.acquire([], h.length)!;
      kv.commit(l, h);
      kv.release(l);
    }
    // older -> block 0; newer -> blocks 1, 2; block 3 is free.
    assert.deepEqual(kv.stats(), { total: 4, free: 1, evictable: 3, cached: 3, leases: 0 });
    const l = kv.acquire(newer, 4)!;
    assert.equal(l.cachedBlocks, 2);
    assert.equal(l.blocks.length, 4);
    assert.equal(kv.match(older), 0, "the older entry was evicted");
    assert.equal(kv.match(newer), 2, "the matched path survived");
    assert.equal(kv.acquire([], 1), null, "nothing left: the rest is leased");
    kv.release(l);
    assert.deepEqual(kv.checkIntegrity(), []);
  });

  test("grow extends the block table, evicting when short; false changes nothing", () => {
    const kv = manager(5);
    const h = kv.hashes(tokens(4, 7));
    const c = kv.acquire([], 1)!;
    kv.commit(c, h);
    kv.release(c); // block 0 cached, evictable
    const a = kv.acquire([], 2)!;
    assert.deepEqual(a.blocks, [1, 2]);
    assert.ok(kv.grow(a, 4));
    assert.deepEqual(a.blocks, [1, 2, 3, 4]);
    assert.ok(kv.grow(a, 5), "evicts the cached block");
    assert.deepEqual(a.blocks, [1, 2, 3, 4, 0]);
    assert.equal(kv.match(h), 0);
    assert.equal(kv.grow(a, 6), false);
    assert.deepEqual(a.blocks, [1, 2, 3, 4, 0]);
    assert.ok(kv.grow(a, 3), "growing to fewer blocks is a no-op");
    assert.equal(a.blocks.length, 5);
    kv.release(a);
    assert.deepEqual(kv.checkIntegrity(), []);
  });

  test("truncate rolls back the tail: blocks freed, the lock moves up to the kept depth", () => {
    const kv = manager(8);
    const h = kv.hashes(tokens(16, 3)); // 4 full blocks
    const a = kv.acquire([], 6)!;
    assert.deepEqual(a.blocks, [0, 1, 2, 3, 4, 5]);
    kv.commit(a, h); // 4 blocks cached, locked through depth 4
    assert.equal(kv.stats().evictable, 0);
    kv.truncate(a, 2);
    assert.deepEqual(a.blocks, [0, 1]);
    // Blocks 4 and 5 were only the lease's: free again. Blocks 2 and 3 stay cached, now unlocked.
    assert.deepEqual(kv.stats(), { total: 8, free: 4, evictable: 2, cached: 4, leases: 1 });
    assert.equal(kv.match(h), 4);
    kv.truncate(a, 5); // longer than the table: no-op
    assert.deepEqual(a.blocks, [0, 1]);
    kv.release(a);
    assert.deepEqual(kv.stats(), { total: 8, free: 4, evictable: 4, cached: 4, leases: 0 });
    assert.deepEqual(kv.checkIntegrity(), []);
  });

  test("with the prefix cache disabled nothing is matched or committed", () => {
    const kv = manager(4, false);
    const h = kv.hashes(tokens(8, 1));
    const a = kv.acquire(h, 2)!;
    kv.commit(a, h);
    kv.release(a);
    assert.equal(kv.match(h), 0);
    assert.deepEqual(kv.stats(), { total: 4, free: 4, evictable: 0, cached: 0, leases: 0 });
  });

  test("a released lease, or another manager's, is refused", () => {
    const kv = manager(4);
    const other = manager(4);
    const a = kv.acquire([], 1)!;
    const b = other.acquire([], 1)!;
    assert.throws(() => kv.grow(b, 2), /another manager/);
    kv.release(a);
    assert.throws(() => kv.grow(a, 2), /after release/);
    assert.throws(() => kv.truncate(b, -1), /another manager/);
    assert.throws(() => other.truncate(b, -1), /not a block count/);
  });

  test("checkIntegrity reports a lease whose reference was dropped behind the manager's back", () => {
    const kv = manager(4);
    const a = kv.acquire([], 2)!;
    (a.blocks as number[]).pop(); // a caller mutating what it must only read
    assert.match(kv.checkIntegrity().join("\n"), /block 1: refcount 1, but 0 holders/);
  });
});
