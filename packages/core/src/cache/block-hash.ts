/**
 * The ONE chain-hash function of RadixServe.
 *
 * A prompt is split into blocks of `blockSize` tokens; only full blocks are hashed. Block i's hash
 * is h_i = H(h_{i-1}, tokens of block i), with h_{-1} = the model's seed, so a hash identifies the
 * whole prefix up to and including its block: equal hashes mean equal token prefixes (up to 64-bit
 * collisions) and equal KV contents for the same model. The worker's radix cache, the KV events it
 * publishes, the router's index and KV transfer all use these hashes, so the function must give
 * the same value in every process, on every platform: it uses only 32-bit integer arithmetic
 * (Math.imul), no randomness and no process-specific state.
 *
 * H is MurmurHash3_x86_128's mixing reduced to two 32-bit lanes (64 bits out): each input word
 * (the parent's two halves, every token id as int32, then the block length) is mixed into both
 * lanes with different constants, and the lanes are cross-added and finalized with fmix32. It is
 * not cryptographic; it is fast (~20M tokens/s here) and well distributed, which is what a cache
 * key needs. A hash is represented as 16 lowercase hex digits (high lane first): a cheap Map key,
 * and trivially convertible to the proto's uint64 string with {@link blockHashToDecimal}.
 *
 * The seed is derived per model (e.g. from a hash of its config.json and weight file names) with
 * {@link blockHashSeed}, so two models never share cache entries.
 */
import { createHash } from "node:crypto";

/** 16 lowercase hex digits: the 64-bit chain hash of a block and every block before it. */
export type BlockHash = string;

const C1 = 0x239b961b;
const C2 = 0xab0e9789;
const C3 = 0x38b34ae5;
const C4 = 0xa1e38b93;

function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

function hex8(n: number): string {
  return (n >>> 0).toString(16).padStart(8, "0");
}

function parseHash(h: BlockHash): [number, number] {
  if (h.length !== 16) throw new Error(`invalid block hash '${h}': want 16 hex digits`);
  const hi = Number.parseInt(h.slice(0, 8), 16);
  const lo = Number.parseInt(h.slice(8), 16);
  if (Number.isNaN(hi) || Number.isNaN(lo)) throw new Error(`invalid block hash '${h}': not hex`);
  return [hi, lo];
}

/** The root of every chain for one model: a 64-bit value derived from `modelKey` (stable across processes). */
export function blockHashSeed(modelKey: string): BlockHash {
  return createHash("sha256")
    .update("radixserve-block-hash-v1\0")
    .update(modelKey)
    .digest("hex")
    .slice(0, 16);
}

// Lane state of the last hashBlockLanes() call (module scratch: avoids allocating per block).
let outHi = 0;
let outLo = 0;

function hashBlockLanes(p1: number, p2: number, tokens: ArrayLike<number>, start: number, end: number): void {
  let h1 = p1 ^ 0x9e3779b9;
  let h2 = p2 ^ 0x7f4a7c15;
  // Words mixed: p1, p2, tokens[start..end), then the length. Written out inline: this loop is hot.
  const n = end - start + 3;
  for (let w = 0; w < n; w++) {
    const k = w === 0 ? p1 : w === 1 ? p2 : w === n - 1 ? end - start : tokens[start + w - 2]! | 0;
    let k1 = Math.imul(k, C1);
    k1 = (k1 << 15) | (k1 >>> 17);
    k1 = Math.imul(k1, C2);
    h1 ^= k1;
    h1 = (h1 << 19) | (h1 >>> 13);
    h1 = (h1 + h2) | 0;
    h1 = (Math.imul(h1, 5) + 0x561ccd1b) | 0;
    let k2 = Math.imul(k, C3);
    k2 = (k2 << 17) | (k2 >>> 15);
    k2 = Math.imul(k2, C4);
    h2 ^= k2;
    h2 = (h2 << 13) | (h2 >>> 19);
    h2 = (h2 + h1) | 0;
    h2 = (Math.imul(h2, 5) + 0x0bcaa747) | 0;
  }
  h1 = (h1 + h2) | 0;
  h2 = (h2 + h1) | 0;
  h1 = fmix32(h1);
  h2 = fmix32(h2);
  h1 = (h1 + h2) | 0;
  h2 = (h2 + h1) | 0;
  outHi = h1 >>> 0;
  outLo = h2 >>> 0;
}

/** h = H(parent, tokens[start..end)). `tokens` are int32 token ids. */
export function hashBlock(
  parent: BlockHash,
  tokens: ArrayLike<number>,
  start = 0,
  end = tokens.length,
): BlockHash {
  const [p1, p2] = parseHash(parent);
  hashBlockLanes(p1, p2, tokens, start, end);
  return hex8(outHi) + hex8(outLo);
}

/**
 * Chain hashes of the full blocks of `tokens`: result[i] covers tokens[0 .. (i+1)*blockSize).
 * A trailing partial block gets no hash (it is private to its request).
 * `from` lets a caller extend an existing chain: pass the hashes already computed.
 */
export function chainHashes(
  seed: BlockHash,
  tokens: ArrayLike<number>,
  blockSize: number,
  from: readonly BlockHash[] = [],
): BlockHash[] {
  if (!Number.isInteger(blockSize) || blockSize <= 0)
    throw new Error(`blockSize must be a positive integer, got ${blockSize}`);
  const full = Math.floor(tokens.length / blockSize);
  const out = from.slice(0, full);
  let [p1, p2] = parseHash(out.length > 0 ? out[out.length - 1]! : seed);
  for (let i = out.length; i < full; i++) {
    hashBlockLanes(p1, p2, tokens, i * blockSize, (i + 1) * blockSize);
    p1 = outHi;
    p2 = outLo;
    out.push(hex8(p1) + hex8(p2));
  }
  return out;
}

/** The proto's uint64 (decimal string) form of a hash. */
export function blockHashToDecimal(h: BlockHash): string {
  parseHash(h);
  return BigInt(`0x${h}`).toString(10);
}

/** Inverse of {@link blockHashToDecimal}. */
export function blockHashFromDecimal(s: string): BlockHash {
  const v = BigInt(s);
  if (v < 0n || v >= 1n << 64n) throw new Error(`block hash ${s} is out of the uint64 range`);
  return v.toString(16).padStart(16, "0");
}
