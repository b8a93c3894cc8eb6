import assert from "node:assert/strict";
import { test } from "node:test";
import { BlockAllocator } from "../src/cache/block-allocator.js";
import { blockHashSeed, chainHashes } from "../src/cache/block-hash.js";
import { type CachedBlockRef, RadixCache } from "../src/cache/radix-cache.js";

const BS = 4;
const seed = blockHashSeed("radix-listener-test");
const range = (from: number, n: number): number[] => Array.from({ length: n }, (_, i) => from + i);

function cacheOf(tokens: number[], a: BlockAllocator, c: RadixCache): string[] {
  const hashes = chainHashes(seed, tokens, BS);
  const hit = c.matchPrefix(hashes);
  a.incRef(hit.blockIds);
  const blocks = [...hit.blockIds, ...(a.allocate(hashes.length - hit.blockIds.length) ?? [])];
  c.insert(hashes, blocks);
  a.decRef(blocks);
  return hashes;
}

test("radix cache listener: stored blocks carry their parent, only new blocks are reported", () => {
  const a = new BlockAllocator(16);
  const c = new RadixCache(a);
  const stored: CachedBlockRef[][] = [];
  const removed: string[][] = [];
  c.setListener({ onStored: (b) => stored.push([...b]), onRemoved: (h) => removed.push([...h]) });
  const h1 = cacheOf(range(0, 12), a, c); // 3 blocks
  const h2 = cacheOf([...range(0, 8), 50, 51, 52, 53], a, c); // shares 2, 1 new
  assert.deepEqual(stored, [
    [
      { hash: h1[0], parent: null },
      { hash: h1[1], parent: h1[0] },
      { hash: h1[2], parent: h1[1] },
    ],
    [{ hash: h2[2], parent: h1[1] }],
  ]);
  cacheOf(range(0, 8), a, c); // nothing new: no event
  assert.equal(stored.length, 2);
  // entries() is the snapshot: parents first, every block once.
  const snap = c.entries();
  assert.equal(snap.length, 4);
  const pos = new Map(snap.map((b, i) => [b.hash, i]));
  for (const b of snap) if (b.parent) assert.ok(pos.get(b.parent)! < pos.get(b.hash)!);
  // Eviction reports what it removed, in one batch per call.
  const freed = c.evict(2);
  assert.equal(freed.length, 2);
  assert.equal(removed.length, 1);
  assert.equal(removed[0]!.length, 2);
  assert.ok(removed[0]!.every((h) => h === h1[2] || h === h2[2]));
  c.flush();
  assert.deepEqual(removed[1]!.sort(), [h1[0]!, h1[1]!].sort());
  assert.deepEqual(c.entries(), []);
  c.setListener(null);
  cacheOf(range(100, 4), a, c);
  assert.equal(stored.length, 2);
  assert.deepEqual(c.checkIntegrity(), []);
});
