import assert from "node:assert/strict";
import { test } from "node:test";
import { BlockAllocator } from "../src/cache/block-allocator.js";

test("block allocator: hands out 0..n-1 in order, all or nothing", () => {
  const a = new BlockAllocator(4);
  assert.deepEqual(a.allocate(3), [0, 1, 2]);
  assert.equal(a.allocate(2), null, "only one left: nothing allocated");
  assert.equal(a.numFree, 1);
  assert.deepEqual(a.allocate(1), [3]);
  assert.equal(a.numFree, 0);
});

test("block allocator: a block is freed when its last holder lets go; LIFO reuse", () => {
  const a = new BlockAllocator(4);
  a.allocate(3);
  a.incRef([1]);
  assert.deepEqual(a.decRef([0, 1]), [0], "block 1 still has a holder");
  assert.equal(a.refCount(1), 1);
  assert.deepEqual(a.decRef([1]), [1]);
  assert.deepEqual(a.allocate(2), [1, 0], "most recently freed first");
  assert.deepEqual(a.checkIntegrity(), []);
});

test("block allocator: misuse throws a clear error", () => {
  const a = new BlockAllocator(2);
  assert.throws(() => a.decRef([0]), /decRef of free block 0/);
  assert.throws(() => a.incRef([1]), /incRef of free block 1/);
  assert.throws(() => a.refCount(2), /out of range/);
  assert.throws(() => new BlockAllocator(0), /positive integer/);
});
