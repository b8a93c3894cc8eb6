import assert from "node:assert/strict";
import { test } from "node:test";
import { BlockAllocator } from "../src/cache/block-allocator.js";
import { blockHashSeed, chainHashes } from "../src/cache/block-hash.js";
import { RadixCache } from "../src/cache/radix-cache.js";

const BS = 4;
const seed = blockHashSeed("radix-test");

/** A request's life: allocate blocks for `tokens`, then insert its full blocks and drop its own references. */
function runAndCache(
  a: BlockAllocator,
  c: RadixCache,
  tokens: number[],
): { hashes: string[]; blocks: number[] } {
  const hashes = chainHashes(seed, tokens, BS);
  const hit = c.matchPrefix(hashes);
  if (hit.node) c.lock(hit.node);
  a.incRef(hit.blockIds);
  const fresh = a.allocate(hashes.length - hit.blockIds.length);
  assert.ok(fresh, "pool has room");
  const blocks = [...hit.blockIds, ...fresh];
  c.insert(hashes, blocks);
  if (hit.node) c.unlock(hit.node);
  a.decRef(blocks);
  return { hashes, blocks };
}

const range = (from: number, n: number): number[] => Array.from({ length: n }, (_, i) => from + i);

test("radix cache: matchPrefix returns the exact cached prefix and is pure", () => {
  const a = new BlockAllocator(16);
  const c = new RadixCache(a);
  const { hashes, blocks } = runAndCache(a, c, range(0, 12)); // 3 full blocks
  assert.deepEqual(blocks, [0, 1, 2]);
  // Same first 2 blocks, different third, plus a partial tail.
  const q = chainHashes(seed, [...range(0, 8), 100, 101, 102, 103, 104, 105], BS);
  const m = c.matchPrefix(q);
  assert.deepEqual(m.blockIds, [0, 1]);
  assert.equal(m.node?.hash, hashes[1]);
  assert.equal(m.node?.depth, 2);
  assert.deepEqual(c.matchPrefix(hashes).blockIds, [0, 1, 2]);
  assert.deepEqual(c.matchPrefix([]).blockIds, []);
  assert.deepEqual(c.matchPrefix(chainHashes(seed, range(50, 8), BS)).node, null);
  // Pure: nothing changed.
  assert.deepEqual(c.sizeInfo(), { cachedBlocks: 3, evictableBlocks: 3, lockedBlocks: 0 });
  assert.deepEqual(c.checkIntegrity(), []);
});

test("radix cache: insert stores only new blocks; the caller keeps duplicates private", () => {
  const a = new BlockAllocator(16);
  const c = new RadixCache(a);
  runAndCache(a, c, range(0, 8)); // blocks 0, 1 cached
  // A concurrent request computed the same prefix in its own blocks 2, 3 and a new third block 4.
  const mine = a.allocate(3)!;
  assert.deepEqual(mine, [2, 3, 4]);
  const hs = chainHashes(seed, range(0, 12), BS);
  const r = c.insert(hs, mine);
  assert.equal(r.inserted, 1);
  assert.deepEqual(
    c.matchPrefix(hs).blockIds,
    [0, 1, 4],
    "the cached copies win; block 4 hangs under block 1",
  );
  assert.deepEqual(
    a.decRef(mine).sort(),
    [2, 3],
    "duplicates are freed by their owner, block 4 stays cached",
  );
  assert.equal(a.refCount(4), 1);
  assert.deepEqual(c.checkIntegrity(), []);
});

test("radix cache: evict frees unlocked leaves in LRU order, deepest first on ties, never locked ones", () => {
  const a = new BlockAllocator(16);
  const c = new RadixCache(a);
  const x = runAndCache(a, c, range(0, 12)); // blocks 0,1,2  (oldest)
  const y = runAndCache(a, c, range(100, 8)); // blocks 3,4
  const z = runAndCache(a, c, [...range(0, 4), ...range(200, 4)]); // shares block 0, adds block 5
  assert.deepEqual(x.blocks, [0, 1, 2]);
  assert.deepEqual(y.blocks, [3, 4]);
  assert.deepEqual(z.blocks, [0, 5]);
  // Lock y (a running request uses it).
  const ym = c.matchPrefix(y.hashes);
  c.lock(ym.node!);
  a.incRef(ym.blockIds);
  assert.deepEqual(c.sizeInfo(), { cachedBlocks: 6, evictableBlocks: 4, lockedBlocks: 2 });

  // x's tail (stamp of x's insert, refreshed only on block 0 by z) goes first: 2 then 1.
  assert.deepEqual(c.evict(1), [2]);
  assert.deepEqual(c.evict(1), [1]);
  // Next: z's leaf 5, then block 0 becomes a leaf and goes; y (locked) is never touched.
  assert.deepEqual(c.evict(5), [5, 0]);
  assert.deepEqual(c.sizeInfo(), { cachedBlocks: 2, evictableBlocks: 0, lockedBlocks: 2 });
  assert.deepEqual(c.matchPrefix(y.hashes).blockIds, [3, 4]);
  assert.deepEqual(c.checkIntegrity(), []);

  // Unlocked, y is evictable; its blocks are freed only when the request lets go too.
  c.unlock(ym.node!);
  assert.deepEqual(c.evict(2), [], "the running request still holds 3 and 4");
  assert.deepEqual(a.decRef(ym.blockIds), [3, 4]);
  assert.equal(a.numFree, 16);
  assert.deepEqual(a.checkIntegrity(), []);
});

test("radix cache: lock refreshes recency, so a recently used prefix outlives older ones", () => {
  const a = new BlockAllocator(8);
  const c = new RadixCache(a);
  const old = runAndCache(a, c, range(0, 4)); // block 0
  runAndCache(a, c, range(10, 4)); // block 1
  const m = c.matchPrefix(old.hashes);
  c.lock(m.node!);
  c.unlock(m.node!);
  assert.deepEqual(c.evict(1), [1], "block 0 was touched later");
  assert.deepEqual(c.flush(), [0]);
  assert.deepEqual(c.sizeInfo(), { cachedBlocks: 0, evictableBlocks: 0, lockedBlocks: 0 });
});

test("radix cache: misuse is reported, not silently accepted", () => {
  const a = new BlockAllocator(4);
  const c = new RadixCache(a);
  const { hashes } = runAndCache(a, c, range(0, 4));
  const n = c.matchPrefix(hashes).node!;
  assert.throws(() => c.unlock(n), /unlock of unlocked/);
  assert.throws(() => c.insert(hashes, []), /1 hashes but 0 block ids/);
  c.flush();
  assert.throws(() => c.lock(n), /no longer/);
});
