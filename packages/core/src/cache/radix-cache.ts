/**
 * SGLang-style automatic prefix cache at block granularity (API after mini-sglang `kvcache/base.py`).
 *
 * The tree's nodes are full KV blocks; a node is keyed by its block's chain hash (block-hash.ts),
 * which already identifies the whole prefix, so a path from the root spells a cached prefix and a
 * lookup is one Map probe per block. The cache holds one allocator reference on each block it
 * stores; running requests hold their own references and `lock` the deepest node they use, which
 * pins that node and its ancestors against eviction.
 *
 * - matchPrefix(hashes)  pure: the longest cached prefix (block ids + the deepest node). No LRU
 *                        update, no reference change; call lock() to take what it found.
 * - lock(node)/unlock(node)  reference counts on the path root..node; also refresh LRU stamps.
 * - insert(hashes, blockIds) adds the blocks not cached yet (taking a reference on each); blocks
 *                        whose hash is already cached are not taken (the caller keeps its copy
 *                        private and frees it itself). Returns the deepest node of the path.
 * - evict(n)             frees at least n blocks if it can (LRU over unlocked leaves: the oldest
 *                        stamp first, ties broken by the deepest node first); returns the block
 *                        ids whose last reference it dropped. Called only when the pool runs short.
 * - sizeInfo()           cached / evictable / locked block counts.
 * - checkIntegrity()     structural and reference-count invariants; tests and idle workers run it.
 * - setListener(l)       one observer of stored / removed blocks (the worker's KV event publisher);
 *                        entries() lists every cached block parent-first (its snapshot).
 */
import type { BlockAllocator } from "./block-allocator.js";
import type { BlockHash } from "./block-hash.js";

/** A node of the tree. Opaque to callers except for reading; only the cache mutates it. */
export interface RadixNode {
  readonly hash: BlockHash;
  readonly blockId: number;
  readonly parent: RadixNode | null;
  readonly depth: number;
}

interface Node extends RadixNode {
  children: Map<BlockHash, Node>;
  lockRef: number;
  lastAccess: number;
}

export interface PrefixMatch {
  /** Block ids of the cached prefix, in order (length = matched blocks). */
  blockIds: number[];
  /** The deepest matched node, or null when nothing matched. */
  node: RadixNode | null;
}

export interface CacheSizeInfo {
  /** Blocks held by the cache. */
  cachedBlocks: number;
  /** Cached blocks not pinned by any lock (freeable by evict). */
  evictableBlocks: number;
  /** Cached blocks pinned by at least one lock. */
  lockedBlocks: number;
}

/** A cached block as KV events name it: its chain hash and its parent's (null for a first block). */
export interface CachedBlockRef {
  readonly hash: BlockHash;
  readonly parent: BlockHash | null;
}

/**
 * Observer of the cache's contents (the KV events a worker publishes). Called synchronously inside
 * insert / evict / flush, after the tree changed; it must not call back into the cache or throw.
 */
export interface RadixCacheListener {
  /** Blocks newly stored by one insert(), parent before child. */
  onStored(blocks: readonly CachedBlockRef[]): void;
  /** Blocks removed by one evict() or flush(). */
  onRemoved(hashes: readonly BlockHash[]): void;
}

export class RadixCache {
  private listener: RadixCacheListener | null = null;
  private readonly nodes = new Map<BlockHash, Node>();
  private readonly rootChildren = new Map<BlockHash, Node>();
  private clock = 0;
  private evictable = 0;

  constructor(private readonly allocator: BlockAllocator) {}

  /** Sets (or with null, clears) the one listener of stored / removed blocks. */
  setListener(listener: RadixCacheListener | null): void {
    this.listener = listener;
  }

  /** Every cached block, parents before children (a snapshot for a router's KV index). */
  entries(): CachedBlockRef[] {
    const out: CachedBlockRef[] = [];
    const walk = (children: Map<BlockHash, Node>, parent: BlockHash | null): void => {
      for (const n of children.values()) {
        out.push({ hash: n.hash, parent });
        walk(n.children, n.hash);
      }
    };
    walk(this.rootChildren, null);
    return out;
  }

  /** The longest cached prefix of the chain `hashes`. Pure. */
  matchPrefix(hashes: readonly BlockHash[]): PrefixMatch {
    const blockIds: number[] = [];
    let node: Node | null = null;
    let children = this.rootChildren;
    for (const h of hashes) {
      const next = children.get(h);
      if (!next) break;
      blockIds.push(next.blockId);
      node = next;
      children = next.children;
    }
    return { blockIds, node };
  }

  /** Pins node and its ancestors (one reference each) and marks them used now. */
  lock(node: RadixNode): void {
    const stamp = ++this.clock;
    for (let n: Node | null = this.own(node); n; n = n.parent as Node | null) {
      if (n.lockRef === 0) this.evictable--;
      n.lockRef++;
      n.lastAccess = stamp;
    }
  }

  /** Releases one lock() of node; the path becomes evictable where no other lock holds it. */
  unlock(node: RadixNode): void {
    const stamp = ++this.clock;
    for (let n: Node | null = this.own(node); n; n = n.parent as Node | null) {
      if (n.lockRef <= 0) throw new Error(`unlock of unlocked radix node ${n.hash}`);
      n.lockRef--;
      if (n.lockRef === 0) this.evictable++;
      n.lastAccess = stamp;
    }
  }

  /**
   * Caches the chain `hashes` backed by `blockIds` (same length, same order). Blocks already cached
   * under the same hash are skipped; each newly stored block gets one extra allocator reference.
   * Returns the deepest node of the path and how many blocks were newly stored.
   */
  insert(
    hashes: readonly BlockHash[],
    blockIds: readonly number[],
  ): { node: RadixNode | null; inserted: number } {
    if (hashes.length !== blockIds.length)
      throw new Error(`insert: ${hashes.length} hashes but ${blockIds.length} block ids`);
    const stamp = ++this.clock;
    let parent: Node | null = null;
    let children = this.rootChildren;
    let inserted = 0;
    const stored: CachedBlockRef[] | null = this.listener ? [] : null;
    for (let i = 0; i < hashes.length; i++) {
      const h = hashes[i]!;
      let n = children.get(h);
      if (!n) {
        if (this.nodes.has(h))
          throw new Error(`block hash ${h} is cached under another parent (hash collision)`);
        const blockId = blockIds[i]!;
        this.allocator.incRef([blockId]);
        n = { hash: h, blockId, parent, depth: i + 1, children: new Map(), lockRef: 0, lastAccess: stamp };
        children.set(h, n);
        this.nodes.set(h, n);
        this.evictable++;
        inserted++;
        stored?.push({ hash: h, parent: parent?.hash ?? null });
      } else {
        n.lastAccess = stamp;
      }
      parent = n;
      children = n.children;
    }
    if (stored && stored.length > 0) this.listener?.onStored(stored);
    return { node: parent, inserted };
  }

  /**
   * Frees at least `numBlocks` blocks if that many are evictable (fewer otherwise): removes
   * unlocked leaves, least recently used first (ties: deepest first), and keeps going up a branch
   * as parents become leaves. Returns the ids of the blocks whose last reference was dropped.
   */
  evict(numBlocks: number): number[] {
    const freed: number[] = [];
    if (numBlocks <= 0) return freed;
    const heap = new LeafHeap();
    const removed: BlockHash[] = [];
    for (const n of this.nodes.values()) if (n.children.size === 0 && n.lockRef === 0) heap.push(n);
    while (freed.length < numBlocks) {
      const n = heap.pop();
      if (!n) break;
      this.remove(n);
      freed.push(...this.allocator.decRef([n.blockId]));
      removed.push(n.hash);
      const p = n.parent as Node | null;
      if (p && p.children.size === 0 && p.lockRef === 0) heap.push(p);
    }
    if (removed.length > 0) this.listener?.onRemoved(removed);
    return freed;
  }

  /** Drops every unlocked entry (FlushCache). Returns the ids of the blocks freed. */
  flush(): number[] {
    return this.evict(Number.MAX_SAFE_INTEGER);
  }

  sizeInfo(): CacheSizeInfo {
    return {
      cachedBlocks: this.nodes.size,
      evictableBlocks: this.evictable,
      lockedBlocks: this.nodes.size - this.evictable,
    };
  }

  /** Every block id the cache holds (one allocator reference each). */
  cachedBlockIds(): number[] {
    return Array.from(this.nodes.values(), (n) => n.blockId);
  }

  /** Returns a list of broken invariants (empty = sound). */
  checkIntegrity(): string[] {
    const problems: string[] = [];
    const blocks = new Set<number>();
    let evictable = 0;
    let reachable = 0;
    const walk = (children: Map<BlockHash, Node>, parent: Node | null, depth: number): void => {
      for (const [h, n] of children) {
        reachable++;
        if (h !== n.hash) problems.push(`node ${n.hash} is filed under ${h}`);
        if (n.parent !== parent) problems.push(`node ${n.hash} has the wrong parent`);
        if (n.depth !== depth) problems.push(`node ${n.hash} has depth ${n.depth}, expected ${depth}`);
        if (this.nodes.get(h) !== n) problems.push(`node ${h} is missing from the hash index`);
        if (blocks.has(n.blockId)) problems.push(`block ${n.blockId} is cached twice`);
        blocks.add(n.blockId);
        if (n.lockRef < 0) problems.push(`node ${h} has negative lockRef ${n.lockRef}`);
        if (n.lockRef === 0) evictable++;
        let childLocks = 0;
        for (const c of n.children.values()) childLocks += c.lockRef;
        if (n.lockRef < childLocks)
          problems.push(`node ${h} lockRef ${n.lockRef} < its children's ${childLocks}`);
        if (this.allocator.refCount(n.blockId) < 1)
          problems.push(`cached block ${n.blockId} is free in the allocator`);
        walk(n.children, n, depth + 1);
      }
    };
    walk(this.rootChildren, null, 1);
    if (reachable !== this.nodes.size)
      problems.push(`${this.nodes.size} indexed nodes but ${reachable} reachable`);
    if (evictable !== this.evictable) problems.push(`evictable count ${this.evictable}, actual ${evictable}`);
    return problems;
  }

  private own(node: RadixNode): Node {
    const n = this.nodes.get(node.hash);
    if (n !== node) throw new Error(`radix node ${node.hash} is not (or no longer) in this cache`);
    return n;
  }

  private remove(n: Node): void {
    const siblings = n.parent ? (n.parent as Node).children : this.rootChildren;
    siblings.delete(n.hash);
    this.nodes.delete(n.hash);
    this.evictable--;
  }
}

/** Min-heap of leaves by (lastAccess asc, depth desc). */
class LeafHeap {
  private readonly items: Node[] = [];

  private static less(a: Node, b: Node): boolean {
    return a.lastAccess !== b.lastAccess ? a.lastAccess < b.lastAccess : a.depth > b.depth;
  }

  push(n: Node): void {
    const a = this.items;
    a.push(n);
    let i = a.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!LeafHeap.less(a[i]!, a[p]!)) break;
      [a[i], a[p]] = [a[p]!, a[i]!];
      i = p;
    }
  }

  pop(): Node | undefined {
    const a = this.items;
    if (a.length === 0) return undefined;
    const top = a[0]!;
    const last = a.pop()!;
    if (a.length > 0) {
      a[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < a.length && LeafHeap.less(a[l]!, a[m]!)) m = l;
        if (r < a.length && LeafHeap.less(a[r]!, a[m]!)) m = r;
        if (m === i) break;
        [a[i], a[m]] = [a[m]!, a[i]!];
        i = m;
      }
    }
    return top;
  }
}
