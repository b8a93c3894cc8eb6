/**
 * Admission control in front of the worker pool (SGLang router's --max-concurrent-requests with
 * --queue-size / --queue-timeout-secs; here the limit is the router's --max-pending-requests).
 *
 * At most `maxConcurrent` requests hold a slot; up to `queueSize` more wait in FIFO order for one;
 * beyond that, or after `queueTimeoutMs` of waiting, a request gets `queue_full` (HTTP 429). A
 * waiter whose client goes away (its AbortSignal) leaves the queue at once. Every granted slot
 * must be released exactly once (the release is idempotent), on every exit path.
 *
 * maxConcurrent 0 = unlimited (no queue); queueSize 0 = no waiting (429 as soon as it is full).
 */
import { RadixServeError, type Result } from "@radixserve/core";

interface Waiter {
  grant: () => void;
  fail: (error: RadixServeError) => void;
}

export class AdmissionQueue {
  private running = 0;
  private readonly waiting: Waiter[] = [];

  constructor(
    private readonly maxConcurrent: number,
    private readonly queueSize: number,
    private readonly queueTimeoutMs: number,
  ) {
    if (!(Number.isInteger(maxConcurrent) && maxConcurrent >= 0))
      throw new Error("maxConcurrent must be >= 0");
    if (!(Number.isInteger(queueSize) && queueSize >= 0)) throw new Error("queueSize must be >= 0");
    if (!(queueTimeoutMs > 0)) throw new Error("queueTimeoutMs must be > 0");
  }

  get inUse(): number {
    return this.running;
  }

  get queued(): number {
    return this.waiting.length;
  }

  /** A slot (its release function), or queue_full when the queue is full or the wait timed out. */
  acquire(signal?: AbortSignal): Promise<Result<() => void>> {
    if (this.maxConcurrent === 0) return Promise.resolve({ ok: true, value: () => {} });
    if (this.running < this.maxConcurrent) {
      this.running++;
      return Promise.resolve({ ok: true, value: this.releaser() });
    }
    if (this.waiting.length >= this.queueSize)
      return Promise.resolve({
        ok: false,
        error: new RadixServeError(
          "queue_full",
          `The server is at capacity (${this.running} requests running, ${this.waiting.length} queued); retry later.`,
        ),
      });
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        signal?.removeEventListener("abort", onAbort);
        const i = this.waiting.indexOf(waiter);
        if (i >= 0) this.waiting.splice(i, 1);
      };
      const waiter: Waiter = {
        grant: () => {
          done();
          resolve({ ok: true, value: this.releaser() });
        },
        fail: (error) => {
          done();
          resolve({ ok: false, error });
        },
      };
      const timer = setTimeout(
        () =>
          waiter.fail(
            new RadixServeError(
              "queue_full",
              `Waited ${this.queueTimeoutMs} ms for a free slot; retry later.`,
            ),
          ),
        this.queueTimeoutMs,
      );
      const onAbort = (): void =>
        waiter.fail(new RadixServeError("aborted", "The client went away while queued."));
      signal?.addEventListener("abort", onAbort, { once: true });
      this.waiting.push(waiter);
    });
  }

  private releaser(): () => void {
    let released = false;
    return () => {
      if (released) return;
      released = true;
      // Hand the slot straight to the oldest waiter (running stays the same), else free it.
      const next = this.waiting[0];
      if (next) next.grant();
      else this.running--;
    };
  }
}
