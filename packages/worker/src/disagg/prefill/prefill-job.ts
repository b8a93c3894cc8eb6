import type { BlockHash } from "@radixserve/core";
import type { StepOutput } from "@radixserve/engine-native";
import type { KvLease } from "../../kv/kv-manager.js";
import { PromptLogprobCollector, type RequestParams } from "../../scheduler/index.js";

/**
 * One request on a prefill worker: its prompt, the blocks that hold the prompt's KV, how much of
 * it is computed, and the first token once sampled. Owned by the PrefillScheduler (which mutates
 * the bookkeeping fields) and observed by the request's transfer session (onProgress).
 */
export class PrefillJob {
  readonly id: string;
  readonly params: RequestParams;
  readonly prompt: Int32Array;
  status: "waiting" | "running" | "computed" | "released" = "waiting";
  /** The job's KV blocks while it holds them (running / computed); null before and after. */
  lease: KvLease | null = null;
  hashes: BlockHash[] = [];
  numComputed = 0;
  /** Prompt tokens served from this worker's prefix cache. */
  cachedTokens = 0;
  /** The sampled first token, once the last prefill chunk ran. */
  first: StepOutput | null = null;
  /** An engine step that includes this job is running: its blocks must not be released yet. */
  inFlight = false;
  /** release() was asked during a step; done when the step returns. */
  pendingRelease = false;
  arrival = 0;
  /** Called when the scheduler admits the job (its blocks are allocated; it leaves the queue). */
  onAdmitted: () => void = () => {};
  /** Called after every step that advanced this job (and once when it failed). */
  onProgress: () => void = () => {};
  /** Called when the job can never complete (engine step failed). */
  onFailure: (err: Error) => void = () => {};
  /** When the request asks for prompt logprobs: what the prefill computed of them. */
  readonly promptLogprobs: PromptLogprobCollector | null;

  constructor(params: RequestParams) {
    this.id = params.id;
    this.params = params;
    this.prompt = Int32Array.from(params.inputIds);
    this.promptLogprobs = params.promptLogprobs
      ? new PromptLogprobCollector(this.prompt, params.promptLogprobs)
      : null;
  }

  /** Block table (empty when the job holds no blocks). */
  get blocks(): readonly number[] {
    return this.lease?.blocks ?? [];
  }

  get promptLen(): number {
    return this.prompt.length;
  }

  get remaining(): number {
    return this.promptLen - this.numComputed;
  }
}
