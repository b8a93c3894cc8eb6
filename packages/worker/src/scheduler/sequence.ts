import type { BlockHash } from "@radixserve/core";
import type { KvLease } from "../kv/kv-manager.js";
import { PromptLogprobCollector } from "./prompt-logprobs.js";
import type { AbortCause, RequestParams, RequestSink } from "./request.js";
import { type DraftState, newDraftState } from "./speculation.js";

/**
 * The scheduler's state of one request (internal to the scheduler).
 *
 * `tokens` is prompt + generated ids. `numComputed` tokens have their KV in `blocks`; the rest run
 * in later steps. remaining = tokens.length - numComputed is 1 while decoding (the last sampled
 * token) and more while prefilling (or recomputing after a preemption).
 */
export class Sequence {
  readonly id: string;
  readonly params: RequestParams;
  readonly sink: RequestSink;
  /** Submission order: FCFS tie-break within a priority; kept across preemptions. */
  readonly arrival: number;
  readonly priority: number;
  readonly promptLen: number;
  readonly tokens: number[];
  readonly promptTokens: Int32Array;
  readonly stopIds: Set<number>;

  status: "waiting" | "running" | "done" = "waiting";
  /** The request's KV blocks (null while queued); its block table is lease.blocks. */
  lease: KvLease | null = null;
  numComputed = 0;
  /** Reported in usage: the prefix-cache hit of the first admission. */
  cachedTokens = 0;
  admittedOnce = false;
  /** Admission order among running requests; the newest is preempted first. */
  admitSeq = 0;
  /** Chain hashes of full blocks of `tokens` (extended lazily). */
  hashes: BlockHash[] = [];
  /** True while an engine step that includes this request runs: its blocks must not be freed. */
  inFlight = false;
  /** Set by abort() during a step; honoured when the step completes. */
  pendingAbort: AbortCause | null = null;
  numPreemptions = 0;
  /** Speculative decoding back-off state. */
  readonly draft: DraftState = newDraftState();
  /** While the request's prompt logprobs are asked and not yet sent. */
  promptLogprobs: PromptLogprobCollector | null = null;

  constructor(params: RequestParams, sink: RequestSink, arrival: number, eosIds: readonly number[]) {
    this.id = params.id;
    this.params = params;
    this.sink = sink;
    this.arrival = arrival;
    this.priority = params.priority ?? 0;
    this.tokens = Array.from(params.inputIds);
    this.promptLen = this.tokens.length;
    this.promptTokens = Int32Array.from(this.tokens);
    this.stopIds = new Set(params.stopTokenIds ?? []);
    if (!params.ignoreEos) for (const id of eosIds) this.stopIds.add(id);
    if (params.promptLogprobs)
      this.promptLogprobs = new PromptLogprobCollector(this.promptTokens, params.promptLogprobs);
  }

  /** Block table (empty while queued). */
  get blocks(): readonly number[] {
    return this.lease?.blocks ?? [];
  }

  get outputLen(): number {
    return this.tokens.length - this.promptLen;
  }

  get remaining(): number {
    return this.tokens.length - this.numComputed;
  }
}
