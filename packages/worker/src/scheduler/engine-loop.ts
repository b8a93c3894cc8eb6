/**
 * The step loop: schedule -> execute -> post-process (nano-vllm LLMEngine.step), forever.
 *
 * engine.step() runs off the JS thread and resolves a Promise, so while a step runs the event loop
 * is free: gRPC requests are accepted, validated and queued, tokens of the previous step stream
 * out, aborts and deadlines are recorded, and scheduler.prepare() does the part of the next
 * batch's work that cannot depend on the in-flight step (chain hashes of queued prompts for the
 * prefix match). The next schedule() then only does the block bookkeeping.
 *
 * The loop sleeps (no polling) while there is nothing to run and wakes on scheduler.onWork.
 *
 * A failed step fails only the requests it concerns. Requests are validated against the engine's
 * ranges before they join a batch, so a step should not throw on one request's account; when one
 * does anyway (a native check, a bug, a fault), the loop re-runs the batch's sequences in halves,
 * post-processes every half that succeeds, and keeps splitting the halves that fail until the
 * failing sequences stand alone: only those end with an error (their blocks freed by the
 * scheduler). Re-running is safe: a step writes only the KV positions of its own sequences, the
 * same values again, and nothing of a failed step reached a client. A culprit costs about
 * 2·log2(batch) extra steps. An error that says the engine itself is gone fails the whole batch at once.
 */

import { RadixServeError } from "@radixserve/core";
import {
  type Engine,
  EngineError,
  type EngineErrorCode,
  type StepOutput,
  type StepSequence,
} from "@radixserve/engine-native";
import type { Logger } from "pino";

/**
 * What the loop drives: the unified/decode Scheduler and the prefill worker's PrefillScheduler.
 * `schedule` returns null when nothing is runnable; the scheduler calls `onWork` when that changes.
 */
export interface SteppedScheduler<B extends { readonly steps: StepSequence[] }> {
  onWork: () => void;
  schedule(): B | null;
  /** Work for the next batch that cannot depend on the in-flight step (optional). */
  prepare?(): void;
  postProcess(batch: B, outputs: readonly (StepOutput | null)[]): void;
  /** The step failed: end every request of the batch with an error and release what it held. */
  failBatch(batch: B, err: unknown): void;
  /**
   * The batch restricted to the sequences at `indices` (ascending), for re-running part of a failed
   * step. Absent: a failed step fails its whole batch.
   */
  subBatch?(batch: B, indices: readonly number[]): B;
}

/** Engine errors after which re-running part of the batch cannot help. */
const FATAL_ENGINE_ERRORS: ReadonlySet<EngineErrorCode> = new Set(["engine_freed"]);

/**
 * The error a request whose step failed ends with: `invalid_request` when the engine refused the
 * request's own arguments (validation missed a range), `internal` otherwise.
 */
export function stepFailure(err: unknown): RadixServeError {
  const message = err instanceof Error ? err.message : String(err);
  if (err instanceof EngineError && err.code === "input_invalid")
    return new RadixServeError("invalid_request", `the engine refused the request: ${message}`, {
      cause: err,
    });
  return new RadixServeError("internal", `engine step failed: ${message}`, { cause: err });
}

function isFatal(err: unknown): boolean {
  return err instanceof EngineError && FATAL_ENGINE_ERRORS.has(err.code);
}

/**
 * Where one step's wall time went (seconds). The engine step runs off the JS thread while the loop
 * prepares the next batch, so `prepare` overlaps `engine`; the others follow one another:
 * idle -> schedule -> engine (|| prepare) -> post.
 */
export interface StepTiming {
  /** Waiting for work, or yielding to I/O, since the previous step's post-processing ended. */
  idle: number;
  /** scheduler.schedule(): picking the batch. */
  schedule: number;
  /** The native step, from its start to its result on the JS thread. */
  engine: number;
  /** scheduler.prepare() while the step ran. */
  prepare: number;
  /** scheduler.postProcess(): appending tokens, streaming them, releasing finished requests. */
  post: number;
}

export interface StepObserver<B> {
  /** Called after each step with its shape, wall time and its timing breakdown (metrics). Must not throw. */
  onStep?(batch: B, seconds: number, timing?: StepTiming): void;
}

export class EngineLoop<B extends { readonly steps: StepSequence[] }> {
  private wake: (() => void) | null = null;
  private stopped = false;
  private running: Promise<void> | null = null;
  private stepping = false;

  constructor(
    private readonly engine: Pick<Engine, "step">,
    private readonly scheduler: SteppedScheduler<B>,
    private readonly log?: Logger,
    private readonly observer: StepObserver<B> = {},
  ) {
    scheduler.onWork = () => this.notify();
  }

  /** Starts the loop (idempotent). */
  start(): void {
    this.running ??= this.run();
  }

  /** True while an engine step is in flight. */
  get busy(): boolean {
    return this.stepping;
  }

  /** Stops after the current step; resolves when the loop has exited. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.notify();
    await this.running;
  }

  private notify(): void {
    const w = this.wake;
    this.wake = null;
    w?.();
  }

  private async run(): Promise<void> {
    let lastEnd = performance.now();
    while (!this.stopped) {
      const ts = performance.now();
      const batch = this.scheduler.schedule();
      if (!batch) {
        await new Promise<void>((resolve) => {
          this.wake = resolve;
        });
        continue;
      }
      const t0 = performance.now();
      this.stepping = true;
      const pending = this.startStep(batch);
      const tp = performance.now();
      this.scheduler.prepare?.();
      const prepare = performance.now() - tp;
      let outputs: Awaited<typeof pending>;
      try {
        outputs = await pending;
      } catch (err) {
        this.log?.error({ err, sequences: batch.steps.length }, "engine step failed");
        await this.recover(batch, err);
        this.stepping = false;
        lastEnd = performance.now();
        continue;
      }
      const t1 = performance.now();
      this.stepping = false;
      // Not inside the try: a bug in post-processing must surface, not be mistaken for an
      // engine failure (failBatch would release blocks a second time).
      this.scheduler.postProcess(batch, outputs);
      const t2 = performance.now();
      this.observer.onStep?.(batch, (t2 - t0) / 1000, {
        idle: Math.max(0, ts - lastEnd) / 1000,
        schedule: (t0 - ts) / 1000,
        engine: (t1 - t0) / 1000,
        prepare: prepare / 1000,
        post: (t2 - t1) / 1000,
      });
      lastEnd = t2;
      // Let I/O (gRPC writes, new requests, aborts) run between steps even when the engine
      // resolves immediately.
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
  }

  private startStep(batch: B): ReturnType<Engine["step"]> {
    try {
      return this.engine.step(batch.steps);
    } catch (err) {
      return Promise.reject(err); // a synchronous validation throw is a failed step too
    }
  }

  /**
   * A step of `batch` failed with `err`: re-runs it in halves until the failing sequences stand
   * alone, post-processing what succeeds; fails only the culprits (see the file header).
   */
  private async recover(batch: B, err: unknown): Promise<void> {
    const n = batch.steps.length;
    if (n <= 1 || !this.scheduler.subBatch || isFatal(err)) {
      if (n === 1) this.log?.warn({ err }, "engine step failed for one sequence: failing its request");
      this.scheduler.failBatch(batch, err);
      return;
    }
    const mid = n >> 1;
    const halves = [range(0, mid), range(mid, n)];
    for (const indices of halves) {
      const part = this.scheduler.subBatch(batch, indices);
      const t0 = performance.now();
      let outputs: (StepOutput | null)[];
      try {
        outputs = await this.startStep(part);
      } catch (e) {
        await this.recover(part, e);
        continue;
      }
      this.scheduler.postProcess(part, outputs);
      this.observer.onStep?.(part, (performance.now() - t0) / 1000);
    }
  }
}

function range(from: number, to: number): number[] {
  return Array.from({ length: to - from }, (_, i) => from + i);
}
