/**
 * Prompt logprobs of one request: which prefill rows must reach the LM head, and what they gave.
 *
 * The log-probability of prompt token p comes from the logits of row p - 1, so asking for tokens
 * from `start` on needs rows max(start, 1) - 1 .. promptLen - 2 computed in this prefill: the
 * prefix cache may serve only the positions before them (`cacheablePositions`). Token 0 has no
 * preceding row; its entry is null. A request that does not ask has no collector and costs nothing.
 * Both the unified scheduler and the prefill worker's scheduler use it.
 */
import type { PromptLogprob, StepOutput, StepSequence } from "@radixserve/engine-native";
import type { SampledLogprob } from "../logprob.js";

/** What a request asks: logprobs of prompt tokens from `start` on, `top` alternatives each. */
export interface PromptLogprobsParams {
  start: number;
  top: number;
}

/** The result: `logprobs[i]` is prompt token `start + i`'s (null for token 0). */
export interface PromptLogprobsResult {
  start: number;
  logprobs: (SampledLogprob | null)[];
}

export class PromptLogprobCollector {
  private readonly got: (PromptLogprob | null)[];
  private readonly firstRow: number;

  constructor(
    private readonly prompt: Int32Array,
    private readonly params: PromptLogprobsParams,
  ) {
    this.got = new Array<PromptLogprob | null>(prompt.length).fill(null);
    this.firstRow = Math.max(params.start, 1) - 1;
  }

  /** Leading prompt positions the prefix cache may serve: the rest must run in this prefill. */
  get cacheablePositions(): number {
    return this.firstRow;
  }

  /** Adds the rows of the chunk [startPos, startPos + tokens.length) that are asked to `step`. */
  ask(step: StepSequence): void {
    const n = step.tokens.length;
    const targets = new Int32Array(n).fill(-1);
    let any = false;
    for (let j = 0; j < n; j++) {
      const next = step.startPos + j + 1; // the prompt token row j predicts
      if (next - 1 < this.firstRow || next >= this.prompt.length) continue;
      targets[j] = this.prompt[next]!;
      any = true;
    }
    if (any) step.promptLogprobs = { targets, top: this.params.top };
  }

  /** Keeps what a step returned for the chunk that began at `startPos`. */
  record(startPos: number, out: StepOutput | null | undefined): void {
    const rows = out?.promptLogprobs;
    if (!rows) return;
    for (let j = 0; j < rows.length; j++) {
      const r = rows[j];
      if (r) this.got[startPos + j + 1] = r;
    }
  }

  /** The logprobs of tokens start .. promptLen - 1 (call once the prompt is computed). */
  result(): PromptLogprobsResult {
    const start = Math.min(this.params.start, this.prompt.length);
    const logprobs = this.got.slice(start).map((r) => (r ? { logprob: r.logprob, top: r.top } : null));
    return { start, logprobs };
  }
}
