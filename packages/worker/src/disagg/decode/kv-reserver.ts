/**
 * KV reservations of a decode worker: before a transfer starts, a lease on the blocks the prompt
 * needs is taken from the worker's KvManager (the scheduler's), whose cached prefix need not travel.
 *
 * A reservation is a KvLease on every prompt block (cached prefix and fresh ones); it is either
 * handed to the scheduler whole (Scheduler.adoptPrefilled) or released whole. When the pool or the running-request limit is
 * short, the request waits in FIFO order until blocks free up (retried after every engine step and
 * every release, and on a 50 ms timer) or its reservation deadline passes.
 */
import { type BlockHash, RadixServeError } from "@radixserve/core";
import type { KvLease } from "../../kv/kv-manager.js";
import type { Scheduler } from "../../scheduler/index.js";

/** A reservation: the lease's leading `cachedBlocks` already hold the right KV (not transferred). */
export type Reservation = KvLease;

interface Waiter {
  hashes: BlockHash[];
  numBlocks: number;
  resolve: (r: Reservation) => void;
  reject: (e: Error) => void;
  timer: NodeJS.Timeout;
}

const RETRY_MS = 50;

export class KvReserver {
  private readonly queue: Waiter[] = [];
  private held = 0;
  private retryTimer: NodeJS.Timeout | null = null;

  constructor(
    private readonly scheduler: Scheduler,
    private readonly maxRunning: number,
  ) {}

  /** Chain hashes of the prompt's full blocks (the same function the scheduler uses). */
  hashes(prompt: ArrayLike<number>): BlockHash[] {
    return this.scheduler.kv.hashes(prompt);
  }

  /** Prompt blocks this worker already caches (pure). */
  cachedBlocks(hashes: readonly BlockHash[]): number {
    return this.scheduler.kv.match(hashes);
  }

  get queued(): number {
    return this.queue.length;
  }

  /** Reservations held (not yet adopted or released). */
  get outstanding(): number {
    return this.held;
  }

  /** Reserves now or waits (FIFO) up to timeoutMs; rejects on timeout or when `signal` aborts. */
  reserve(
    hashes: BlockHash[],
    numBlocks: number,
    timeoutMs: number,
    signal: AbortSignal,
  ): Promise<Reservation> {
    if (this.queue.length === 0) {
      const r = this.tryReserve(hashes, numBlocks);
      if (r) return Promise.resolve(r);
    }
    return new Promise((resolve, reject) => {
      const w: Waiter = {
        hashes,
        numBlocks,
        resolve,
        reject,
        timer: setTimeout(() => {
          this.remove(w);
          reject(
            new RadixServeError(
              "queue_full",
              `no KV blocks for ${numBlocks} prompt blocks within ${timeoutMs} ms (reservation deadline)`,
            ),
          );
        }, timeoutMs),
      };
      signal.addEventListener(
        "abort",
        () => {
          if (this.remove(w)) {
            clearTimeout(w.timer);
            reject(new RadixServeError("aborted", "request cancelled while waiting for KV blocks"));
          }
        },
        { once: true },
      );
      this.queue.push(w);
      this.armRetry();
    });
  }

  /** Gives the reservation back (the transfer failed or was cancelled). */
  release(r: Reservation): void {
    if (r.released) return;
    this.scheduler.kv.release(r);
    this.held--;
    this.retry();
  }

  /** The scheduler took the reservation over (adoptPrefilled). */
  handedOver(): void {
    this.held--;
  }

  /** Serves queued reservations that fit now, in order. */
  retry(): void {
    while (this.queue.length > 0) {
      const w = this.queue[0]!;
      const r = this.tryReserve(w.hashes, w.numBlocks);
      if (!r) break;
      this.queue.shift();
      clearTimeout(w.timer);
      w.resolve(r);
    }
    if (this.queue.length > 0) this.armRetry();
  }

  private armRetry(): void {
    if (this.retryTimer) return;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      this.retry();
    }, RETRY_MS);
    this.retryTimer.unref();
  }

  private remove(w: Waiter): boolean {
    const i = this.queue.indexOf(w);
    if (i < 0) return false;
    this.queue.splice(i, 1);
    return true;
  }

  private tryReserve(hashes: BlockHash[], numBlocks: number): Reservation | null {
    if (this.scheduler.stats().running + this.held >= this.maxRunning) return null;
    const lease = this.scheduler.kv.acquire(hashes, numBlocks);
    if (lease) this.held++;
    return lease;
  }
}
