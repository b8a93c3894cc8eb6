/**
 * The router's index of which worker caches which KV blocks: one radix tree over chain hashes
 * (core/src/cache/block-hash.ts) shared by all workers. A chain hash names its whole prefix, so a
 * node is found by one Map probe and a path is the sequence of a prompt's hashes; each node also
 * records its parent hash (the tree edge).
 *
 * A worker's entries come from two sources:
 * - exact: the worker's KV events (blocks stored / removed) or a snapshot of its cache;
 * - approximate: "I routed this prompt there", inserted at routing time so a burst of requests
 *   with one prefix follows the first before the worker's stored event arrives, and the only
 *   source when NATS is absent. An approximate entry expires after `ttlMs` (Infinity for a worker
 *   without events) and a worker holds at most `capacity` of them (oldest dropped first): it
 *   cannot know what the worker evicted. A stored event for the same hash makes it exact.
 *
 * Layout (flat, for the hot path): each node is a slot number; its holders are two bitmasks
 * (exact, approximate) of worker slots in Uint32Arrays, `words` 32-bit words per node. So match()
 * is one Map probe per prompt block plus an AND of a word or two, and applying an event is a probe
 * and a bit flip; no object per node or per holder, nothing for the GC to trace but the hash keys.
 * A worker's match must be contiguous from the first block (its cache is a prefix tree too).
 */
import type { BlockHash } from "@radixserve/core";

/** A block in a KV event or snapshot: its chain hash and its parent's (null for a first block). */
export interface IndexedBlock {
  readonly hash: BlockHash;
  readonly parent: BlockHash | null;
}

export interface WorkerIndexStats {
  exactBlocks: number;
  approxBlocks: number;
}

export interface KvIndexOptions {
  /** Most approximate entries per worker (oldest dropped first). Default 65536. */
  approxCapacity?: number;
}

interface WorkerSlot {
  readonly id: string;
  readonly slot: number;
  exact: number;
  /** hash -> expiry (ms); insertion order = expiry order (one TTL per worker), so the head expires first. */
  readonly approx: Map<BlockHash, number>;
}

const INITIAL_NODES = 1024;

export class KvIndex {
  private readonly slotOf = new Map<BlockHash, number>();
  private hashes: (BlockHash | undefined)[] = [];
  private parents: (BlockHash | null)[] = [];
  private readonly freeNodes: number[] = [];
  private nodeCap = INITIAL_NODES;
  /** Words of worker bits per node. */
  private words = 1;
  private exactBits = new Uint32Array(INITIAL_NODES);
  private approxBits = new Uint32Array(INITIAL_NODES);

  private readonly workers = new Map<string, WorkerSlot>();
  /** Worker by slot (undefined: free slot). */
  private bySlot: (WorkerSlot | undefined)[] = [];
  private readonly approxCapacity: number;
  /** Scratch for match(): the bits still matching, one word per worker word. */
  private alive = new Uint32Array(1);

  constructor(opts: KvIndexOptions = {}) {
    this.approxCapacity = opts.approxCapacity ?? 65536;
    if (!(this.approxCapacity >= 0))
      throw new Error(`approxCapacity must be >= 0, got ${opts.approxCapacity}`);
  }

  /**
   * Longest contiguous cached prefix of `hashes` per worker (workers with 0 blocks are absent).
   * `out` is cleared and filled (pass one map to reuse it; the hot path allocates nothing then).
   */
  match(hashes: readonly BlockHash[], out: Map<string, number> = new Map()): Map<string, number> {
    out.clear();
    const n = hashes.length;
    if (n === 0) return out;
    const first = this.slotOf.get(hashes[0]!);
    if (first === undefined) return out;
    const words = this.words;
    const alive = this.alive;
    const ex = this.exactBits;
    const ap = this.approxBits;
    let any = 0;
    for (let k = 0, o = first * words; k < words; k++, o++) {
      alive[k] = ex[o]! | ap[o]!;
      any |= alive[k]!;
    }
    let i = 1;
    for (; i < n && any !== 0; i++) {
      const s = this.slotOf.get(hashes[i]!);
      any = 0;
      for (let k = 0, o = (s ?? 0) * words; k < words; k++, o++) {
        const was = alive[k]!;
        const now = s === undefined ? 0 : was & (ex[o]! | ap[o]!);
        if (now !== was) this.emit(out, k, (was & ~now) >>> 0, i);
        alive[k] = now;
        any |= now;
      }
    }
    if (any !== 0) for (let k = 0; k < words; k++) this.emit(out, k, alive[k]!, i);
    return out;
  }

  /** A worker's KV event: blocks stored (in chain order). Makes approximate entries exact. */
  applyStored(workerId: string, blocks: readonly IndexedBlock[]): void {
    const w = this.entries(workerId);
    const word = w.slot >>> 5;
    const bit = 1 << (w.slot & 31);
    for (let j = 0; j < blocks.length; j++) {
      const b = blocks[j]!;
      const o = this.node(b.hash, b.parent) * this.words + word;
      if ((this.approxBits[o]! & bit) !== 0) {
        this.approxBits[o]! &= ~bit;
        w.approx.delete(b.hash);
      } else if ((this.exactBits[o]! & bit) !== 0) continue;
      this.exactBits[o]! |= bit;
      w.exact++;
    }
  }

  /** A worker's KV event: blocks removed (evicted or flushed). Unknown hashes are ignored. */
  applyRemoved(workerId: string, hashes: readonly BlockHash[]): void {
    const w = this.workers.get(workerId);
    if (!w) return;
    const word = w.slot >>> 5;
    const bit = 1 << (w.slot & 31);
    for (let j = 0; j < hashes.length; j++) {
      const h = hashes[j]!;
      const s = this.slotOf.get(h);
      if (s === undefined) continue;
      const o = s * this.words + word;
      if ((this.exactBits[o]! & bit) !== 0) {
        this.exactBits[o]! &= ~bit;
        w.exact--;
      } else if ((this.approxBits[o]! & bit) !== 0) {
        this.approxBits[o]! &= ~bit;
        w.approx.delete(h);
      } else continue;
      this.freeIfEmpty(s);
    }
  }

  /** Replaces everything known about a worker by its snapshot (exact; approximate entries dropped). */
  replaceWorker(workerId: string, blocks: readonly IndexedBlock[]): void {
    this.removeWorker(workerId);
    this.applyStored(workerId, blocks);
  }

  /** Forgets a worker (it left, or its cache was cleared). Scans the nodes: rare, not on the hot path. */
  removeWorker(workerId: string): void {
    const w = this.workers.get(workerId);
    if (!w) return;
    const word = w.slot >>> 5;
    const keep = ~(1 << (w.slot & 31));
    for (const s of this.slotOf.values()) {
      const o = s * this.words + word;
      this.exactBits[o]! &= keep;
      this.approxBits[o]! &= keep;
      this.freeIfEmpty(s);
    }
    this.workers.delete(workerId);
    this.bySlot[w.slot] = undefined;
  }

  /**
   * Records that the chain `hashes` was routed to `workerId` (approximate: the worker will cache
   * it, probably). Blocks already exact are left alone; the rest (re)start their TTL.
   */
  insertApproximate(workerId: string, hashes: readonly BlockHash[], nowMs: number, ttlMs: number): void {
    const w = this.entries(workerId);
    const word = w.slot >>> 5;
    const bit = 1 << (w.slot & 31);
    const expires = nowMs + ttlMs;
    for (let i = 0; i < hashes.length; i++) {
      const h = hashes[i]!;
      const o = this.node(h, i > 0 ? hashes[i - 1]! : null) * this.words + word;
      if ((this.exactBits[o]! & bit) !== 0) continue;
      if ((this.approxBits[o]! & bit) !== 0) w.approx.delete(h);
      else this.approxBits[o]! |= bit;
      w.approx.set(h, expires);
    }
    while (w.approx.size > this.approxCapacity) this.dropOldestApprox(w);
  }

  /** Drops approximate entries whose TTL has passed. Cheap: stops at the first live entry per worker. */
  pruneExpired(nowMs: number): number {
    let dropped = 0;
    for (const w of this.workers.values()) {
      for (const [h, expires] of w.approx) {
        if (expires > nowMs) break;
        this.releaseApprox(w, h);
        dropped++;
      }
    }
    return dropped;
  }

  workerIds(): string[] {
    return [...this.workers.keys()].sort();
  }

  workerStats(workerId: string): WorkerIndexStats {
    const w = this.workers.get(workerId);
    return { exactBlocks: w?.exact ?? 0, approxBlocks: w?.approx.size ?? 0 };
  }

  /** Blocks indexed for a worker (exact + approximate), without allocating. */
  workerBlocks(workerId: string): number {
    const w = this.workers.get(workerId);
    return w ? w.exact + w.approx.size : 0;
  }

  /** Distinct blocks indexed (over all workers). */
  get size(): number {
    return this.slotOf.size;
  }

  /** Structural invariants, for tests: node bits, per-worker counts and approximate maps agree. */
  checkIntegrity(): string[] {
    const problems: string[] = [];
    const exact = new Map<WorkerSlot, number>();
    let approx = 0;
    for (const [h, s] of this.slotOf) {
      if (this.hashes[s] !== h) problems.push(`node ${h} has slot ${s}, which names ${this.hashes[s]}`);
      let held = false;
      for (let k = 0; k < this.words; k++) {
        const e = this.exactBits[s * this.words + k]!;
        const a = this.approxBits[s * this.words + k]!;
        if ((e & a) !== 0) problems.push(`node ${h} is exact and approximate for one worker`);
        if ((e | a) !== 0) held = true;
        for (let b = 0; b < 32; b++) {
          const bit = 1 << b;
          if (((e | a) & bit) === 0) continue;
          const w = this.bySlot[k * 32 + b];
          if (!w) {
            problems.push(`node ${h} lists a worker slot ${k * 32 + b} no worker has`);
            continue;
          }
          if (e & bit) exact.set(w, (exact.get(w) ?? 0) + 1);
          if (a & bit) {
            approx++;
            if (!w.approx.has(h)) problems.push(`node ${h} lists ${w.id} approximate, which lacks it`);
          }
        }
      }
      if (!held) problems.push(`node ${h} has no holder`);
    }
    let approxEntries = 0;
    for (const w of this.workers.values()) {
      if ((exact.get(w) ?? 0) !== w.exact)
        problems.push(`${w.id} counts ${w.exact} exact blocks but nodes list ${exact.get(w) ?? 0}`);
      approxEntries += w.approx.size;
    }
    if (approxEntries !== approx)
      problems.push(`${approxEntries} approximate entries but ${approx} approximate node holders`);
    return problems;
  }

  /** Sets `len` for every worker whose bit is in `bits` (word `k`). */
  private emit(out: Map<string, number>, k: number, bits: number, len: number): void {
    while (bits !== 0) {
      const b = 31 - Math.clz32(bits);
      bits &= ~(1 << b);
      out.set(this.bySlot[k * 32 + b]!.id, len);
    }
  }

  private entries(workerId: string): WorkerSlot {
    let w = this.workers.get(workerId);
    if (w) return w;
    let slot = this.bySlot.indexOf(undefined);
    if (slot < 0) slot = this.bySlot.length;
    if (slot >= this.words * 32) this.resize(this.nodeCap, this.words + 1);
    w = { id: workerId, slot, exact: 0, approx: new Map() };
    this.bySlot[slot] = w;
    this.workers.set(workerId, w);
    return w;
  }

  /** The slot of `hash`'s node, created (with its parent) when absent. */
  private node(hash: BlockHash, parent: BlockHash | null): number {
    let s = this.slotOf.get(hash);
    if (s !== undefined) {
      if (this.parents[s] === null && parent !== null) this.parents[s] = parent;
      return s;
    }
    s = this.freeNodes.pop();
    if (s === undefined) {
      s = this.hashes.length;
      if (s >= this.nodeCap) this.resize(this.nodeCap * 2, this.words);
      this.hashes.push(hash);
      this.parents.push(parent);
    } else {
      this.hashes[s] = hash;
      this.parents[s] = parent;
    }
    this.slotOf.set(hash, s);
    return s;
  }

  private freeIfEmpty(s: number): void {
    for (let k = 0, o = s * this.words; k < this.words; k++, o++)
      if ((this.exactBits[o]! | this.approxBits[o]!) !== 0) return;
    this.slotOf.delete(this.hashes[s]!);
    this.hashes[s] = undefined;
    this.parents[s] = null;
    this.freeNodes.push(s);
  }

  private releaseApprox(w: WorkerSlot, h: BlockHash): void {
    w.approx.delete(h);
    const s = this.slotOf.get(h);
    if (s === undefined) return;
    this.approxBits[s * this.words + (w.slot >>> 5)]! &= ~(1 << (w.slot & 31));
    this.freeIfEmpty(s);
  }

  private dropOldestApprox(w: WorkerSlot): void {
    const first = w.approx.keys().next();
    if (!first.done) this.releaseApprox(w, first.value);
  }

  /** Grows the node arrays to `cap` nodes of `words` words each (bits keep their worker slot). */
  private resize(cap: number, words: number): void {
    const ex = new Uint32Array(cap * words);
    const ap = new Uint32Array(cap * words);
    for (let s = 0; s < this.nodeCap; s++)
      for (let k = 0; k < this.words; k++) {
        ex[s * words + k] = this.exactBits[s * this.words + k]!;
        ap[s * words + k] = this.approxBits[s * this.words + k]!;
      }
    this.exactBits = ex;
    this.approxBits = ap;
    this.nodeCap = cap;
    if (words !== this.words) this.alive = new Uint32Array(words);
    this.words = words;
  }
}
