import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import {
  blockHashFromDecimal,
  blockHashSeed,
  blockHashToDecimal,
  chainHashes,
  hashBlock,
} from "../src/cache/block-hash.js";

const seed = blockHashSeed("model-a");

test("block hash: only full blocks are hashed, and each hash chains on its parent", () => {
  const tokens = Array.from({ length: 35 }, (_, i) => i * 7);
  const hs = chainHashes(seed, tokens, 16);
  assert.equal(hs.length, 2);
  assert.equal(hs[0], hashBlock(seed, tokens, 0, 16));
  assert.equal(hs[1], hashBlock(hs[0]!, tokens, 16, 32));
  for (const h of hs) assert.match(h, /^[0-9a-f]{16}$/);
  // Same second block after a different first block -> different second hash.
  const other = [...tokens];
  other[0] = 99999;
  const hs2 = chainHashes(seed, other, 16);
  assert.notEqual(hs2[0], hs[0]);
  assert.notEqual(hs2[1], hs[1]);
  // Extending a chain reuses what was computed.
  assert.deepEqual(
    chainHashes(seed, [...tokens, ...tokens], 16, hs),
    chainHashes(seed, [...tokens, ...tokens], 16),
  );
});

test("block hash: seeded per model, sensitive to every token and to order", () => {
  const t = [1, 2, 3, 4];
  assert.notEqual(hashBlock(seed, t), hashBlock(blockHashSeed("model-b"), t));
  assert.notEqual(hashBlock(seed, t), hashBlock(seed, [1, 2, 4, 3]));
  assert.notEqual(hashBlock(seed, t), hashBlock(seed, [1, 2, 3, 5]));
  assert.notEqual(hashBlock(seed, [0]), hashBlock(seed, [0, 0]));
  // No collisions over many single-token blocks.
  const seen = new Set<string>();
  for (let i = 0; i < 100_000; i++) seen.add(hashBlock(seed, [i]));
  assert.equal(seen.size, 100_000);
});

test("block hash: identical in another process (pinned values)", () => {
  const tokens = Array.from({ length: 32 }, (_, i) => (i * 2654435761) % 32000);
  const here = chainHashes(blockHashSeed("pinned"), tokens, 16);
  const mod = fileURLToPath(new URL("../src/cache/block-hash.ts", import.meta.url));
  const r = spawnSync(
    process.execPath,
    [
      "--import",
      "tsx",
      "--input-type=module",
      "-e",
      `import { chainHashes, blockHashSeed } from ${JSON.stringify(mod)};
       console.log(JSON.stringify(chainHashes(blockHashSeed("pinned"), ${JSON.stringify(tokens)}, 16)));`,
    ],
    { encoding: "utf8" },
  );
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(JSON.parse(r.stdout), here);
  // Pinned: a change to the function changes every cache key in a cluster; do it deliberately.
  assert.equal(blockHashSeed("pinned"), "ec70e23b7f5205cc");
  assert.deepEqual(chainHashes(blockHashSeed("pinned"), [1, 2, 3, 4, 5, 6, 7, 8], 4), [
    "a335cb62760ad6fc",
    "da501605d982740d",
  ]);
});

test("block hash: decimal (proto uint64) round trip and bad input", () => {
  const h = hashBlock(seed, [5, 6]);
  assert.equal(blockHashFromDecimal(blockHashToDecimal(h)), h);
  assert.equal(blockHashToDecimal("ffffffffffffffff"), "18446744073709551615");
  assert.throws(() => hashBlock("abc", [1]), /16 hex digits/);
  assert.throws(() => chainHashes(seed, [1], 0), /positive integer/);
  assert.throws(() => blockHashFromDecimal("18446744073709551616"), /uint64/);
});
