/**
 * The prefill worker's step loop: schedule -> execute -> post-process, sleeping (no polling) while
 * nothing is runnable. Post-processing runs the transfer sessions' pumps, which enqueue the
 * finished chunk's exportBlocks on the engine BEFORE the loop enqueues the next step, so those
 * bytes are on the wire while the next chunk computes.
 */

import type { Logger } from "@radixserve/core";
import type { Engine } from "@radixserve/engine-native";
import type { PrefillScheduler } from "./prefill-scheduler.js";

export class PrefillLoop {
  private wake: (() => void) | null = null;
  private stopped = false;
  private running: Promise<void> | null = null;
  busy = false;

  constructor(
    private readonly engine: Pick<Engine, "step">,
    private readonly scheduler: PrefillScheduler,
    private readonly log?: Logger,
  ) {
    scheduler.onWork = () => this.notify();
  }

  start(): void {
    this.running ??= this.run();
  }

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
      this.busy = true;
      let outputs: Awaited<ReturnType<Engine["step"]>>;
      try {
        outputs = await this.engine.step(batch.steps);
      } catch (err) {
        this.busy = false;
        this.log?.error({ err }, "prefill engine step failed");
        this.scheduler.failBatch(batch, err);
        continue;
      }
      this.busy = false;
      this.scheduler.postProcess(batch, outputs);
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
  }
}
