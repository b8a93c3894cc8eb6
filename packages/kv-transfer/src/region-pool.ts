/**
 * Reusable transfer memory. Mapping and first-touching a fresh region costs about as much as the
 * copy itself (tmpfs zeroes every page; every page faults once), so the shm and tcp transports
 * keep the regions of completed transfers and hand them to the next transfer of a similar size,
 * the way RDMA engines register memory once and reuse it. Only regions whose transfer COMPLETED
 * come back: after a failure a stalled peer might still write into one.
 */
export interface PooledRegion {
  readonly size: number;
}

/** Sizes of new regions are rounded up to this (so transfers of similar sizes share regions). */
export const REGION_GRANULE = 4 * 1024 * 1024;

export function roundRegionSize(bytes: number): number {
  return Math.ceil(bytes / REGION_GRANULE) * REGION_GRANULE;
}

export class RegionPool<T extends PooledRegion> {
  private readonly free: T[] = [];
  private bytes = 0;

  /**
   * @param maxBytes most bytes kept idle (the transports default to 512 MiB); beyond it a returned
   *   region is disposed.
   * @param dispose releases a region for good.
   */
  constructor(
    private readonly maxBytes: number,
    private readonly dispose: (r: T) => void,
  ) {}

  /** The smallest idle region of at least `size` bytes and at most twice that, or null. */
  take(size: number): T | null {
    let best = -1;
    for (let i = 0; i < this.free.length; i++) {
      const s = this.free[i]!.size;
      if (s >= size && s <= 2 * Math.max(size, REGION_GRANULE) && (best < 0 || s < this.free[best]!.size))
        best = i;
    }
    if (best < 0) return null;
    const [r] = this.free.splice(best, 1);
    this.bytes -= r!.size;
    return r!;
  }

  /** Keeps a region of a completed transfer for reuse (or disposes it when the pool is full). */
  give(r: T): void {
    if (this.bytes + r.size > this.maxBytes) {
      this.dispose(r);
      return;
    }
    this.free.push(r);
    this.bytes += r.size;
  }

  /** Idle bytes held. */
  get idleBytes(): number {
    return this.bytes;
  }

  clear(): void {
    for (const r of this.free.splice(0)) this.dispose(r);
    this.bytes = 0;
  }
}
