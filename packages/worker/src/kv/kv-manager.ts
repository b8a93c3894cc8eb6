/**
 * The one owner of a worker's KV blocks (after mini-sglang's CacheManager and nano-vllm's
 * BlockManager): the block allocator and the radix prefix cache live here and nowhere else.
 * Everything that needs blocks (the continuous-batching scheduler, the prefill scheduler, the
 * decode side's reservations) holds a KvLease from it and never touches the allocator or the
 * cache directly.
 *
 * - match(hashes)         pure: how many leading blocks of the chain the prefix cache holds.
 * - acquire(hashes, n)    all or nothing: matches the prefix and locks it (so it is neither evicted
 *                         nor counted as room), evicts unlocked cache entries (LRU) when the free
 *                         list is short, and allocates the rest of `n` blocks. The lease's block
 *                         table is the cached prefix followed by the fresh blocks.
 * - grow(lease, n)        extends the block table to `n` blocks (evicting when short); all or nothing.
 * - commit(lease, hashes) inserts the lease's leading computed full blocks into the prefix cache
 *                         (keyed by `hashes`) and, unless told otherwise, moves the lease's lock to
 *                         the deepest node of that path.
 * - truncate(lease, n)    rollback: drops the block table past `n` blocks (speculative tokens that
 *                         were rejected); the lock moves up to at most depth `n`.
 * - release(lease)        unlocks and drops every reference of the lease (idempotent). Computed
 *                         blocks the caller wants kept must be committed first.
 * - stats(), flush(), checkIntegrity(): counters, dropping the unlocked cache, and invariants
 *                         (every block reference is held by exactly the live leases and the cache).
 *
 * A lease is owned by one holder at a time; handing it to another holder (a decode-side
 * reservation adopted by the scheduler) passes the object itself. Methods given a lease that was
 * released, or that another manager issued, throw: that is a bug in the caller, not an input.
 */
import { BlockAllocator, type BlockHash, chainHashes, RadixCache, type RadixNode } from "@radixserve/core";

export interface KvManagerConfig {
  /** KV pool capacity in blocks (the engine's numBlocks). */
  numBlocks: number;
  /** Tokens per block. */
  blockSize: number;
  /** Root of the block-hash chain for this model. */
  hashSeed: BlockHash;
  /** false (--disable-radix-cache): nothing is matched or committed. */
  enablePrefixCache: boolean;
}

/** Blocks held by one request (or reservation). Read-only for its holder; the manager changes it. */
export interface KvLease {
  /** Block table: one reference held per entry; the cached prefix first. */
  readonly blocks: readonly number[];
  /** Leading blocks that came from the prefix cache when the lease was acquired. */
  readonly cachedBlocks: number;
  /** True once release() ran: the lease holds nothing. */
  readonly released: boolean;
}

export interface KvStats {
  total: number;
  /** Blocks on the free list. */
  free: number;
  /** Cached blocks that nobody but the cache holds (freeable by eviction). */
  evictable: number;
  /** Blocks held by the prefix cache. */
  cached: number;
  /** Live leases. */
  leases: number;
}

class Lease implements KvLease {
  blocks: number[];
  node: RadixNode | null;
  released = false;
  constructor(
    blocks: number[],
    readonly cachedBlocks: number,
    node: RadixNode | null,
  ) {
    this.blocks = blocks;
    this.node = node;
  }
}

export class KvManager {
  readonly config: KvManagerConfig;
  private readonly allocator: BlockAllocator;
  /** Readable by observers (KV events, snapshots); mutated only by this manager. */
  readonly cache: RadixCache;
  private readonly leases = new Set<Lease>();

  constructor(config: KvManagerConfig) {
    this.config = config;
    this.allocator = new BlockAllocator(config.numBlocks);
    this.cache = new RadixCache(this.allocator);
  }

  get blockSize(): number {
    return this.config.blockSize;
  }

  /** Chain hashes of the full blocks of `tokens`, extending `known` (hashes of a shorter prefix). */
  hashes(tokens: ArrayLike<number>, known: readonly BlockHash[] = []): BlockHash[] {
    return chainHashes(this.config.hashSeed, tokens, this.config.blockSize, known);
  }

  /** Leading blocks of the chain that the prefix cache holds (0 with the cache disabled). Pure. */
  match(hashes: readonly BlockHash[]): number {
    if (!this.config.enablePrefixCache) return 0;
    return this.cache.matchPrefix(hashes).blockIds.length;
  }

  /**
   * A lease on `numBlocks` blocks whose first ones reuse the longest cached prefix of `hashes`
   * (at most `numBlocks` of them), or null when the pool cannot provide the rest even after
   * evicting; null changes nothing.
   */
  acquire(hashes: readonly BlockHash[], numBlocks: number): KvLease | null {
    const m = this.config.enablePrefixCache
      ? this.cache.matchPrefix(hashes.slice(0, numBlocks))
      : { blockIds: [], node: null };
    // Lock the matched path first: it is then neither counted as room nor evicted below.
    if (m.node) this.cache.lock(m.node);
    const fresh = this.allocateOrEvict(numBlocks - m.blockIds.length);
    if (!fresh) {
      if (m.node) this.cache.unlock(m.node);
      return null;
    }
    this.allocator.incRef(m.blockIds);
    const lease = new Lease([...m.blockIds, ...fresh], m.blockIds.length, m.node);
    this.leases.add(lease);
    return lease;
  }

  /** Extends the lease's block table to `numBlocks` blocks; false (nothing changed) when short. */
  grow(lease: KvLease, numBlocks: number): boolean {
    const l = this.own(lease);
    const fresh = this.allocateOrEvict(numBlocks - l.blocks.length);
    if (!fresh) return false;
    l.blocks.push(...fresh);
    return true;
  }

  /**
   * Inserts the lease's first `hashes.length` blocks (computed, full) into the prefix cache. With
   * `lock` (the default) the lease then pins the deepest node of that path instead of its old one.
   */
  commit(lease: KvLease, hashes: readonly BlockHash[], lock = true): void {
    const l = this.own(lease);
    if (!this.config.enablePrefixCache || hashes.length === 0) return;
    if (hashes.length > l.blocks.length)
      throw new Error(`commit of ${hashes.length} blocks, the lease holds ${l.blocks.length}`);
    const { node } = this.cache.insert(hashes, l.blocks.slice(0, hashes.length));
    if (lock && node && node !== l.node) this.relock(l, node);
  }

  /** Rollback: keeps the first `numBlocks` blocks of the lease and drops the rest. */
  truncate(lease: KvLease, numBlocks: number): void {
    const l = this.own(lease);
    if (!Number.isInteger(numBlocks) || numBlocks < 0)
      throw new Error(`truncate to ${numBlocks} blocks: not a block count`);
    if (numBlocks >= l.blocks.length) return;
    let node = l.node;
    while (node && node.depth > numBlocks) node = node.parent;
    if (node !== l.node) this.relock(l, node);
    this.allocator.decRef(l.blocks.splice(numBlocks));
  }

  /** Unlocks and drops every block reference of the lease. Idempotent. */
  release(lease: KvLease): void {
    if (lease.released) return;
    const l = this.own(lease);
    if (l.node) this.cache.unlock(l.node);
    l.node = null;
    this.allocator.decRef(l.blocks);
    l.blocks = [];
    l.released = true;
    this.leases.delete(l);
  }

  /** Drops every unlocked prefix-cache entry; returns how many blocks were freed. */
  flush(): number {
    return this.cache.flush().length;
  }

  stats(): KvStats {
    const info = this.cache.sizeInfo();
    return {
      total: this.allocator.numBlocks,
      free: this.allocator.numFree,
      evictable: info.evictableBlocks,
      cached: info.cachedBlocks,
      leases: this.leases.size,
    };
  }

  /** The KV fields of a scheduler's stats (the names GetLoad and the metrics use). */
  loadStats(): {
    kvBlocksTotal: number;
    kvBlocksFree: number;
    kvBlocksEvictable: number;
    kvBlocksCached: number;
  } {
    const s = this.stats();
    return {
      kvBlocksTotal: s.total,
      kvBlocksFree: s.free,
      kvBlocksEvictable: s.evictable,
      kvBlocksCached: s.cached,
    };
  }

  /**
   * Allocator and cache invariants, plus: each block's count equals its holders (leases + cache),
   * and, when the caller says how many leases it accounts for, that there are exactly that many.
   */
  checkIntegrity(expectedLeases?: number): string[] {
    const problems = [...this.allocator.checkIntegrity(), ...this.cache.checkIntegrity()];
    const expected = new Map<number, number>();
    for (const l of this.leases) for (const b of l.blocks) expected.set(b, (expected.get(b) ?? 0) + 1);
    for (const b of this.cache.cachedBlockIds()) expected.set(b, (expected.get(b) ?? 0) + 1);
    for (let b = 0; b < this.allocator.numBlocks; b++) {
      const want = expected.get(b) ?? 0;
      const have = this.allocator.refCount(b);
      if (want !== have) problems.push(`block ${b}: refcount ${have}, but ${want} holders`);
    }
    if (expectedLeases !== undefined && expectedLeases !== this.leases.size)
      problems.push(`${this.leases.size} KV leases, but ${expectedLeases} holders`);
    return problems;
  }

  // ---- internals ----

  private own(lease: KvLease): Lease {
    if (!(lease instanceof Lease) || !this.leases.has(lease))
      throw new Error(lease.released ? "KV lease used after release" : "KV lease of another manager");
    return lease;
  }

  private relock(l: Lease, node: RadixNode | null): void {
    if (node) this.cache.lock(node);
    if (l.node) this.cache.unlock(l.node);
    l.node = node;
  }

  private allocateOrEvict(n: number): number[] | null {
    if (n <= 0) return [];
    const short = n - this.allocator.numFree;
    if (short > 0) {
      if (this.cache.sizeInfo().evictableBlocks < short) return null;
      this.cache.evict(short);
    }
    return this.allocator.allocate(n);
  }
}
