/**
 * The free list of KV block ids (0 .. numBlocks-1) with reference counts.
 *
 * A block's count is the number of holders: each running request whose block table contains it,
 * plus one while the radix cache holds it. A block returns to the free list when its count drops
 * to zero. Allocation is all-or-nothing and LIFO (recently freed blocks are reused first, which
 * keeps the working set of the pool small); a fresh allocator hands out 0, 1, 2, ... in order.
 */
export class BlockAllocator {
  readonly numBlocks: number;
  private readonly refs: Int32Array;
  private readonly freeStack: Int32Array;
  private freeTop: number;

  constructor(numBlocks: number) {
    if (!Number.isInteger(numBlocks) || numBlocks <= 0)
      throw new Error(`numBlocks must be a positive integer, got ${numBlocks}`);
    this.numBlocks = numBlocks;
    this.refs = new Int32Array(numBlocks);
    this.freeStack = new Int32Array(numBlocks);
    for (let i = 0; i < numBlocks; i++) this.freeStack[i] = numBlocks - 1 - i;
    this.freeTop = numBlocks;
  }

  get numFree(): number {
    return this.freeTop;
  }

  get numUsed(): number {
    return this.numBlocks - this.freeTop;
  }

  /** Allocates `n` blocks with count 1 each, or returns null (allocating nothing) when fewer are free. */
  allocate(n: number): number[] | null {
    if (n > this.freeTop) return null;
    const out = new Array<number>(n);
    for (let i = 0; i < n; i++) {
      const id = this.freeStack[--this.freeTop]!;
      this.refs[id] = 1;
      out[i] = id;
    }
    return out;
  }

  /** Adds a holder to blocks that are already allocated. */
  incRef(ids: Iterable<number>): void {
    for (const id of ids) {
      this.check(id);
      if (this.refs[id] === 0) throw new Error(`incRef of free block ${id}`);
      this.refs[id]!++;
    }
  }

  /** Drops a holder; returns the ids that became free. */
  decRef(ids: Iterable<number>): number[] {
    const freed: number[] = [];
    for (const id of ids) {
      this.check(id);
      const r = this.refs[id]!;
      if (r <= 0) throw new Error(`decRef of free block ${id}`);
      this.refs[id] = r - 1;
      if (r === 1) {
        this.freeStack[this.freeTop++] = id;
        freed.push(id);
      }
    }
    return freed;
  }

  refCount(id: number): number {
    this.check(id);
    return this.refs[id]!;
  }

  /** Verifies that the free list and the counts agree; returns a list of problems (empty = sound). */
  checkIntegrity(): string[] {
    const problems: string[] = [];
    const seen = new Uint8Array(this.numBlocks);
    for (let i = 0; i < this.freeTop; i++) {
      const id = this.freeStack[i]!;
      if (seen[id]) problems.push(`block ${id} is on the free list twice`);
      seen[id] = 1;
      if (this.refs[id] !== 0) problems.push(`free block ${id} has refcount ${this.refs[id]}`);
    }
    for (let id = 0; id < this.numBlocks; id++)
      if (!seen[id] && this.refs[id]! <= 0) problems.push(`block ${id} is neither free nor referenced`);
    return problems;
  }

  private check(id: number): void {
    if (!Number.isInteger(id) || id < 0 || id >= this.numBlocks)
      throw new Error(`block id ${id} out of range 0..${this.numBlocks - 1}`);
  }
}
