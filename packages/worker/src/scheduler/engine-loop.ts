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
 */
import type { Engine, StepOutput, StepSequence } from "@radixserve/engine-native";
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
  /** The step failed: release what the batch held. */
  failBatch(batch: B, err: unknown): void;
}

export interface StepObserver<B> {
  /** Called after each step with its shape and wall time (metrics). Must not throw. */
  onStep?(batch: B, seconds: number): void;
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
    while (!this.stopped) {
      const batch = this.scheduler.schedule();
      if (!batch) {
        await new Promise<void>((resolve) => {
          this.wake = resolve;
        });
        continue;
      }
      const t0 = performance.now();
      this.stepping = true;
      let pending: ReturnType<Engine["step"]>;
      try {
        pending = this.engine.step(batch.steps);
      } catch (err) {
        pending = Promise.reject(err); // a synchronous validation throw is a failed step too
      }
      this.scheduler.prepare?.();
      let outputs: Awaited<typeof pending>;
      try {
        outputs = await pending;
      } catch (err) {
        this.stepping = false;
        this.log?.error({ err }, "engine step failed");
        this.scheduler.failBatch(batch, err);
        continue;
      }
      this.stepping = false;
      // Not inside the try: a bug in post-processing must surface, not be mistaken for an
      // engine failure (failBatch would release blocks a second time).
      this.scheduler.postProcess(batch, outputs);
      this.observer.onStep?.(batch, (performance.now() - t0) / 1000);
      // Let I/O (gRPC writes, new requests, aborts) run between steps even when the engine
      // resolves immediately.
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
  }
}
