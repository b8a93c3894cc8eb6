/**
 * The router's index of which worker caches which KV blocks: one radix tree over chain hashes
 * (core/src/cache/block-hash.ts) shared by all workers, each node listing the workers that hold
 * the block. A chain hash names its whole prefix, so a node is found by one Map probe and a path
 * is the sequence of a prompt's hashes; each node also records its parent hash (the tree edge).
 *
 * A worker's entries come from two sources:
 * - exact: the worker's KV events (blocks stored / removed) or a snapshot of its cache;
 * - approximate: "I routed this prompt there", inserted at routing time so a burst of requests
 *   with one prefix follows the first before the worker's stored event arrives, and the only
 *   source when NATS is absent. An approximate entry expires after `ttlMs` (Infinity for a worker
 *   without events) and a worker holds at most `capacity` of them (oldest dropped first): it
 *   cannot know what the worker evicted. A stored event for the same hash makes it exact.
 *
 * match() is the hot path: one Map probe per prompt block plus one step per holder; a worker's
 * match must be contiguous from the first block (its cache is a prefix tree too).
 */
import type { BlockHash } from "@radixserve/core";

/** A block in a KV event or snapshot: its chain hash and its parent's (null for a first block). */
export interface IndexedBlock {
  readonly hash: BlockHash;
  readonly parent: BlockHash | null;
}

interface IndexNode {
  readonly hash: BlockHash;
  parent: BlockHash | null;
  /** Workers holding the block. An array, not a Set: it has a few entries (<= workers), and a
   * million small Sets cost the GC far more than a million small arrays. */
  readonly holders: string[];
}

interface WorkerEntries {
  readonly exact: Set<BlockHash>;
  /** hash -> expiry (ms); insertion order = expiry order (one TTL per worker), so the head expires first. */
  readonly approx: Map<BlockHash, number>;
}

export interface WorkerIndexStats {
  exactBlocks: number;
  approxBlocks: number;
}

export interface KvIndexOptions {
  /** Most approximate entries per worker (oldest dropped first). Default 65536. */
  approxCapacity?: number;
}

export class KvIndex {
  private readonly nodes = new Map<BlockHash, IndexNode>();
  private readonly workers = new Map<string, WorkerEntries>();
  private readonly approxCapacity: number;

  constructor(opts: KvIndexOptions = {}) {
    this.approxCapacity = opts.approxCapacity ?? 65536;
    if (!(this.approxCapacity >= 0))
      throw new Error(`approxCapacity must be >= 0, got ${opts.approxCapacity}`);
  }

  /** Longest contiguous cached prefix of `hashes` per worker (workers with 0 blocks are absent). */
  match(hashes: readonly BlockHash[]): Map<string, number> {
    const out = new Map<string, number>();
    for (let i = 0; i < hashes.length; i++) {
      const node = this.nodes.get(hashes[i]!);
      if (!node) break;
      let extended = false;
      for (const w of node.holders) {
        if ((out.get(w) ?? 0) === i) {
          out.set(w, i + 1);
          extended = true;
        }
      }
      if (!extended) break;
    }
    return out;
  }

  /** A worker's KV event: blocks stored (in chain order). Makes approximate entries exact. */
  applyStored(workerId: string, blocks: readonly IndexedBlock[]): void {
    const e = this.entries(workerId);
    for (const b of blocks) {
      e.approx.delete(b.hash);
      if (e.exact.has(b.hash)) continue;
      e.exact.add(b.hash);
      this.hold(b.hash, b.parent, workerId);
    }
  }

  /** A worker's KV event: blocks removed (evicted or flushed). Unknown hashes are ignored. */
  applyRemoved(workerId: string, hashes: readonly BlockHash[]): void {
    const e = this.workers.get(workerId);
    if (!e) return;
    for (const h of hashes) {
      const was = e.exact.delete(h) || e.approx.delete(h);
      if (was) this.release(h, workerId);
    }
  }

  /** Replaces everything known about a worker by its snapshot (exact; approximate entries dropped). */
  replaceWorker(workerId: string, blocks: readonly IndexedBlock[]): void {
    this.removeWorker(workerId);
    this.applyStored(workerId, blocks);
  }

  /** Forgets a worker (it left, or its cache was cleared). */
  removeWorker(workerId: string): void {
    const e = this.workers.get(workerId);
    if (!e) return;
    for (const h of e.exact) this.release(h, workerId);
    for (const h of e.approx.keys()) this.release(h, workerId);
    this.workers.delete(workerId);
  }

  /**
   * Records that the chain `hashes` was routed to `workerId` (approximate: the worker will cache
   * it, probably). Blocks already exact are left alone; the rest (re)start their TTL.
   */
  insertApproximate(workerId: string, hashes: readonly BlockHash[], nowMs: number, ttlMs: number): void {
    const e = this.entries(workerId);
    const expires = nowMs + ttlMs;
    for (let i = 0; i < hashes.length; i++) {
      const h = hashes[i]!;
      if (e.exact.has(h)) continue;
      if (e.approx.delete(h)) e.approx.set(h, expires);
      else {
        e.approx.set(h, expires);
        this.hold(h, i > 0 ? hashes[i - 1]! : null, workerId);
      }
    }
    while (e.approx.size > this.approxCapacity) this.dropOldestApprox(workerId, e);
  }

  /** Drops approximate entries whose TTL has passed. Cheap: stops at the first live entry per worker. */
  pruneExpired(nowMs: number): number {
    let dropped = 0;
    for (const [id, e] of this.workers) {
      for (const [h, expires] of e.approx) {
        if (expires > nowMs) break;
        e.approx.delete(h);
        this.release(h, id);
        dropped++;
      }
    }
    return dropped;
  }

  workerIds(): string[] {
    return [...this.workers.keys()].sort();
  }

  workerStats(workerId: string): WorkerIndexStats {
    const e = this.workers.get(workerId);
    return { exactBlocks: e?.exact.size ?? 0, approxBlocks: e?.approx.size ?? 0 };
  }

  /** Distinct blocks indexed (over all workers). */
  get size(): number {
    return this.nodes.size;
  }

  /** Structural invariants, for tests: holder sets and per-worker entries agree. */
  checkIntegrity(): string[] {
    const problems: string[] = [];
    let holds = 0;
    for (const [h, n] of this.nodes) {
      if (n.holders.length === 0) problems.push(`node ${h} has no holder`);
      if (new Set(n.holders).size !== n.holders.length) problems.push(`node ${h} lists a worker twice`);
      for (const w of n.holders) {
        const e = this.workers.get(w);
        if (!e || !(e.exact.has(h) || e.approx.has(h))) problems.push(`node ${h} lists ${w}, which lacks it`);
        holds++;
      }
    }
    let entries = 0;
    for (const [w, e] of this.workers) {
      for (const h of e.exact)
        if (e.approx.has(h)) problems.push(`${w} holds ${h} both exact and approximate`);
      entries += e.exact.size + e.approx.size;
    }
    if (entries !== holds) problems.push(`${entries} worker entries but ${holds} node holders`);
    return problems;
  }

  private entries(workerId: string): WorkerEntries {
    let e = this.workers.get(workerId);
    if (!e) {
      e = { exact: new Set(), approx: new Map() };
      this.workers.set(workerId, e);
    }
    return e;
  }

  private hold(hash: BlockHash, parent: BlockHash | null, workerId: string): void {
    let n = this.nodes.get(hash);
    if (!n) {
      n = { hash, parent, holders: [workerId] };
      this.nodes.set(hash, n);
      return;
    }
    if (n.parent === null && parent !== null) n.parent = parent;
    if (!n.holders.includes(workerId)) n.holders.push(workerId);
  }

  private release(hash: BlockHash, workerId: string): void {
    const n = this.nodes.get(hash);
    if (!n) return;
    const i = n.holders.indexOf(workerId);
    if (i >= 0) n.holders.splice(i, 1);
    if (n.holders.length === 0) this.nodes.delete(hash);
  }

  private dropOldestApprox(workerId: string, e: WorkerEntries): void {
    const first = e.approx.keys().next();
    if (first.done) return;
    e.approx.delete(first.value);
    this.release(first.value, workerId);
  }
}
