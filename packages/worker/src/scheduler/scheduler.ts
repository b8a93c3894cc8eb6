/**
 * Continuous-batching scheduler (the policy half of nano-vllm's LLMEngine.step):
 * schedule() builds one mixed batch, the caller runs it on the engine, postProcess() applies the
 * sampled tokens. EngineLoop (engine-loop.ts) drives the three in a loop.
 *
 * Each step, in this order:
 *  1. Decode: every running request that is decoding contributes 1 token (no budget limit: at most
 *     maxRunningRequests of them). It may need a fresh block when it crosses a block boundary.
 *  2. Prefill continuation: running requests whose prompt is not fully computed get the next chunk,
 *     oldest first, under the step's prefill budget (maxPrefillTokens, and chunkedPrefillSize per
 *     request).
 *  3. Admission: waiting requests by priority (higher first), FCFS within a priority, while running
 *     < maxRunningRequests and budget remains. A request first reuses the longest cached prefix
 *     (radix cache; always leaving >= 1 token to compute so the step yields logits), then gets
 *     fresh blocks for its first chunk. Admission is head-of-line: when the head does not fit, no
 *     later request jumps ahead of it.
 *
 * KV blocks are owned by the KvManager (kv/kv-manager.ts); each admitted request holds one lease.
 * When the free list runs short the manager first evicts unlocked prefix-cache entries (LRU). If that is not enough for a running request, it PREEMPTS: the newest running
 * request not already in this step is retracted (its computed full blocks go to the prefix cache,
 * unlocked, then every block reference it holds is dropped) and it returns to the front of its
 * priority class in the queue with its generated tokens kept; when re-admitted it recomputes
 * prompt + generated tokens (usually cheaply, from the prefix cache if the blocks survived). The
 * oldest request therefore always makes progress, and no request is admitted whose prompt +
 * max_new_tokens exceeds the whole pool, so preemption cannot livelock.
 *
 * Prefix cache: full blocks are inserted when each prefill chunk completes (so concurrent requests
 * with the same prefix can share them early) and when the request ends (prompt + generated
 * blocks); a partially filled last block stays private. A running request locks the deepest
 * cached node it uses.
 *
 * Abort (client gone, deadline, explicit, drain) drops every block reference of the request at
 * once; if the request is inside a running engine step, this happens as soon as the step returns
 * (the engine may still be writing those blocks).
 *
 * Why one file of ~590 lines: admission, preemption, post-processing and abort all move requests
 * between the same waiting / running sets in one order; split, each part would reach into the
 * others' state. Blocks are not here (kv/kv-manager.ts), nor validation (validate.ts).
 */

import { type BlockHash, RadixServeError, type Result } from "@radixserve/core";
import type { SampledToken, StepOutput, StepSequence, TopLogprob } from "@radixserve/engine-native";
import { type KvLease, KvManager } from "../kv/kv-manager.js";
import type { SchedulerConfig } from "./config.js";
import { stepFailure } from "./engine-loop.js";
import type { PromptLogprobsResult } from "./prompt-logprobs.js";
import type { AbortCause, FinishReasonName, RequestEvent, RequestParams, RequestSink } from "./request.js";
import { Sequence } from "./sequence.js";
import { type DraftProposer, Speculator } from "./speculation.js";
import { validateRequest } from "./validate.js";

/** One scheduled step: the engine's input plus what the scheduler needs to post-process it. */
export interface ScheduledBatch {
  readonly steps: StepSequence[];
  readonly seqs: Sequence[];
  /** Tokens each seq computes in this step. */
  readonly chunkLens: number[];
  readonly numPrefillTokens: number;
  readonly numDecodeTokens: number;
  /** performance.now() when it was built (speculation measures decode steps from it). */
  readonly scheduledAt?: number;
}

export interface SchedulerStats {
  running: number;
  queued: number;
  kvBlocksTotal: number;
  /** Blocks on the free list. */
  kvBlocksFree: number;
  /** Cached blocks that nobody but the cache holds (freeable by eviction). */
  kvBlocksEvictable: number;
  kvBlocksCached: number;
  promptTokensTotal: number;
  cachedTokensTotal: number;
  generationTokensTotal: number;
  preemptionsTotal: number;
  /** cachedTokensTotal / promptTokensTotal (0 before the first request). */
  cacheHitRate: number;
}

export class Scheduler {
  readonly config: SchedulerConfig;
  /** The owner of this worker's KV blocks; decode-side reservations take leases from it too. */
  readonly kv: KvManager;
  private readonly waiting: Sequence[] = [];
  private readonly running: Sequence[] = [];
  private readonly byId = new Map<string, Sequence>();
  private arrivals = 0;
  private admissions = 0;
  private draining = false;
  private readonly counters = { prompt: 0, cached: 0, generated: 0, preemptions: 0 };
  /** Called whenever new work may be schedulable (a submit, a finished abort ...). */
  onWork: () => void = () => {};
  /** Speculative decoding (drafts and their counters), when configured. */
  readonly speculator: Speculator | null;

  /** `proposer` replaces the configured algorithm's draft source (tests drive verification with it). */
  constructor(config: SchedulerConfig, proposer?: DraftProposer) {
    this.config = config;
    this.kv = new KvManager(config);
    this.speculator = config.speculative ? new Speculator(config.speculative, proposer) : null;
  }

  /** Validates and queues a request. Expected rejections are values (invalid_request, queue_full ...). */
  submit(params: RequestParams, sink: RequestSink): Result<void> {
    const refused = this.refusal(params);
    if (refused) return { ok: false, error: refused };
    if (this.waiting.length >= this.config.maxQueuedRequests)
      return {
        ok: false,
        error: new RadixServeError("queue_full", `queue is full (${this.waiting.length} requests waiting)`),
      };
    const seq = new Sequence(params, sink, this.arrivals++, this.config.eosTokenIds);
    this.byId.set(seq.id, seq);
    this.enqueue(seq);
    this.onWork();
    return { ok: true, value: undefined };
  }

  /**
   * Disaggregated decode: takes over a request whose prompt KV was computed by a prefill worker and
   * imported into `blocks`, and whose first token that worker sampled. The request joins the
   * running set at once (it skips the admission queue: its blocks are already held), so the caller
   * gates how many it hands over. The lease (taken from `this.kv`) passes to the scheduler, which
   * releases it when the request ends. The first token is emitted here, or ends the request when
   * it is a stop token or max_new_tokens is 1. On a rejection nothing is taken: the caller still
   * owns the lease.
   */
  adoptPrefilled(
    params: RequestParams,
    sink: RequestSink,
    prefilled: {
      lease: KvLease;
      cachedTokens: number;
      firstToken: number;
      firstLogprob?: { logprob: number; top: TopLogprob[] };
      promptLogprobs?: PromptLogprobsResult;
    },
  ): Result<void> {
    const refused = this.refusal(params);
    if (refused) return { ok: false, error: refused };
    const t = prefilled.firstToken;
    if (!Number.isInteger(t) || t < 0 || t >= this.config.vocabSize)
      return {
        ok: false,
        error: new RadixServeError("internal", `prefilled first token ${t} is not a token id`),
      };
    const seq = new Sequence(params, sink, this.arrivals++, this.config.eosTokenIds);
    const need = Math.ceil(seq.promptLen / this.config.blockSize);
    if (prefilled.lease.blocks.length !== need)
      return {
        ok: false,
        error: new RadixServeError(
          "internal",
          `prefilled request ${params.id} brings ${prefilled.lease.blocks.length} blocks, its prompt needs ${need}`,
        ),
      };
    this.byId.set(seq.id, seq);
    seq.lease = prefilled.lease;
    seq.numComputed = seq.promptLen;
    seq.admittedOnce = true;
    seq.cachedTokens = prefilled.cachedTokens;
    this.counters.prompt += seq.promptLen;
    this.counters.cached += seq.cachedTokens;
    this.counters.generated++;
    seq.status = "running";
    seq.admitSeq = ++this.admissions;
    this.running.push(seq);
    this.cacheComputed(seq, true);
    seq.tokens.push(t);
    seq.promptLogprobs = null;
    if (prefilled.promptLogprobs) emit(seq, { type: "prompt_logprobs", ...prefilled.promptLogprobs });
    const outside = seq.stopIds.has(t) ? null : advanceConstraint(seq, t);
    if (seq.stopIds.has(t)) this.finish(seq, "stop", t);
    else if (outside) this.endAborted(seq, { kind: "error", error: outside });
    else {
      emit(
        seq,
        prefilled.firstLogprob
          ? { type: "token", tokenId: t, logprob: prefilled.firstLogprob }
          : { type: "token", tokenId: t },
      );
      if (seq.params.constraint?.stopped) this.finish(seq, "stop", -1);
      else if (seq.outputLen >= seq.params.maxNewTokens || seq.tokens.length >= this.config.maxContextLength)
        this.finish(seq, "length", -1);
    }
    this.onWork();
    return { ok: true, value: undefined };
  }

  /**
   * Aborts a queued or running request. Returns false for unknown (or already finished) ids.
   * The request's sink receives finished(abort) (client/explicit) or an error (deadline/error).
   */
  abort(id: string, cause: AbortCause = { kind: "explicit" }): boolean {
    const seq = this.byId.get(id);
    if (!seq || seq.status === "done") return false;
    if (seq.inFlight) {
      seq.pendingAbort ??= cause;
      return true;
    }
    this.endAborted(seq, cause);
    this.onWork();
    return true;
  }

  /** Stops admitting new requests (submit answers `draining`); queued and running ones finish. */
  drain(): void {
    this.draining = true;
  }

  get isDraining(): boolean {
    return this.draining;
  }

  /** True when nothing is queued or running. */
  get idle(): boolean {
    return this.waiting.length === 0 && this.running.length === 0;
  }

  /** Work that does not depend on the in-flight step: chain hashes of queued prompts. */
  prepare(): void {
    if (!this.config.enablePrefixCache) return;
    for (const seq of this.waiting) this.extendHashes(seq, seq.tokens.length);
  }

  /** Builds the next step, or null when there is nothing to run. */
  schedule(): ScheduledBatch | null {
    const batch: { steps: StepSequence[]; seqs: Sequence[]; chunkLens: number[] } = {
      steps: [],
      seqs: [],
      chunkLens: [],
    };
    const inBatch = new Set<Sequence>();
    let numDecode = 0;
    const preemptionsBefore = this.counters.preemptions;

    // 1. Decodes, oldest first (preemption takes the newest), each with its drafts if speculating.
    const decoding = this.running.filter((s) => s.status === "running" && s.remaining === 1).length;
    const draft = this.speculator?.stepAllowed(decoding) ?? false;
    for (const seq of [...this.running]) {
      if (seq.status !== "running" || seq.remaining !== 1 || inBatch.has(seq)) continue;
      if (!this.ensureBlocks(seq, seq.tokens.length, inBatch)) continue;
      this.addToBatch(batch, inBatch, seq, 1, draft ? this.drafts(seq) : []);
      numDecode++;
    }

    // 2. Prefill continuation, then 3. admission, under one prefill budget.
    let budget = Math.max(1, this.config.maxPrefillTokens);
    for (const seq of [...this.running]) {
      if (budget <= 0) break;
      if (seq.status !== "running" || seq.remaining <= 1 || inBatch.has(seq)) continue;
      const chunk = this.chunkFor(seq, budget, batch.seqs.length - numDecode);
      if (chunk <= 0) continue;
      if (!this.ensureBlocks(seq, seq.numComputed + chunk, inBatch)) continue;
      this.addToBatch(batch, inBatch, seq, chunk);
      budget -= chunk;
    }
    // No admission in a step that had to preempt: the freed blocks would be handed straight to a
    // newcomer and the preempted request would thrash.
    const preempted = this.counters.preemptions !== preemptionsBefore;
    while (
      !preempted &&
      budget > 0 &&
      this.waiting.length > 0 &&
      this.running.length < this.config.maxRunningRequests
    ) {
      const seq = this.waiting[0]!;
      const chunk = this.admit(seq, budget, batch.seqs.length - numDecode);
      if (chunk <= 0) break;
      this.waiting.shift();
      this.addToBatch(batch, inBatch, seq, chunk);
      budget -= chunk;
    }

    if (batch.seqs.length === 0) return null;
    return {
      ...batch,
      numDecodeTokens: numDecode,
      numPrefillTokens: batch.chunkLens.reduce((a, b) => a + b, 0) - numDecode,
      scheduledAt: performance.now(),
    };
  }

  /** Applies a finished step: appends sampled tokens, emits events, finishes and frees requests. */
  postProcess(batch: ScheduledBatch, outputs: readonly (StepOutput | null)[]): void {
    if (this.speculator && batch.numPrefillTokens === 0 && batch.scheduledAt !== undefined) {
      const drafted = batch.steps.some((st) => (st.numDraft ?? 0) > 0);
      const tokens = outputs.reduce((n, o) => n + (o ? (o.verified?.length ?? 1) : 0), 0);
      this.speculator.recordStep(drafted, tokens, performance.now() - batch.scheduledAt);
    }
    for (let i = 0; i < batch.seqs.length; i++) {
      const seq = batch.seqs[i]!;
      const step = batch.steps[i]!;
      seq.inFlight = false;
      seq.numComputed += batch.chunkLens[i]!;
      if (seq.pendingAbort) {
        this.endAborted(seq, seq.pendingAbort);
        continue;
      }
      seq.promptLogprobs?.record(step.startPos, outputs[i]);
      if (!step.sample) {
        this.cacheComputed(seq, true);
        continue;
      }
      if (seq.promptLogprobs) {
        emit(seq, { type: "prompt_logprobs", ...seq.promptLogprobs.result() });
        seq.promptLogprobs = null;
      }
      const wasPrefill = batch.chunkLens[i]! > 1 || seq.numComputed <= seq.promptLen;
      if (wasPrefill) this.cacheComputed(seq, true);
      const out = outputs[i];
      const numDraft = step.numDraft ?? 0;
      const sampled = numDraft > 0 ? out?.verified : out ? [out] : undefined;
      if (!sampled || sampled.length === 0 || sampled.length > numDraft + 1) {
        this.endAborted(seq, {
          kind: "error",
          error: new RadixServeError("internal", `engine returned no valid token for request ${seq.id}`),
        });
        continue;
      }
      if (numDraft > 0) {
        // The accepted drafts' KV is valid; what only rejected drafts wrote is rolled back below.
        const accepted = sampled.length - 1;
        this.speculator?.record(seq.draft, numDraft, accepted);
        seq.numComputed += accepted;
      }
      this.appendSampled(seq, step, sampled);
      if (seq.status === "running" && seq.lease && numDraft > 0)
        this.kv.truncate(seq.lease, Math.ceil(seq.tokens.length / this.config.blockSize));
    }
    this.onWork();
  }

  /**
   * Appends one step's sampled tokens (one, or the accepted drafts and the target's token) in
   * order, emitting each, and finishes the request at the first stop token or limit: tokens after
   * it are dropped. numComputed never passes the tokens kept.
   */
  private appendSampled(seq: Sequence, step: StepSequence, sampled: readonly SampledToken[]): void {
    const wantLogprobs = step.sampling?.logprobs !== undefined && step.sampling.logprobs >= 0;
    for (const s of sampled) {
      if (!Number.isInteger(s.token) || s.token < 0 || s.token >= this.config.vocabSize) {
        seq.numComputed = Math.min(seq.numComputed, seq.tokens.length);
        this.endAborted(seq, {
          kind: "error",
          error: new RadixServeError("internal", `engine returned no valid token for request ${seq.id}`),
        });
        return;
      }
      this.counters.generated++;
      seq.tokens.push(s.token);
      if (seq.stopIds.has(s.token)) {
        seq.numComputed = Math.min(seq.numComputed, seq.tokens.length);
        this.finish(seq, "stop", s.token);
        return;
      }
      const refused = advanceConstraint(seq, s.token);
      if (refused) {
        seq.numComputed = Math.min(seq.numComputed, seq.tokens.length);
        this.endAborted(seq, { kind: "error", error: refused });
        return;
      }
      const logprob = wantLogprobs ? { logprob: s.logprob, top: s.topLogprobs ?? [] } : undefined;
      emit(seq, logprob ? { type: "token", tokenId: s.token, logprob } : { type: "token", tokenId: s.token });
      if (seq.params.constraint?.stopped) {
        seq.numComputed = Math.min(seq.numComputed, seq.tokens.length);
        this.finish(seq, "stop", -1);
        return;
      }
      if (seq.outputLen >= seq.params.maxNewTokens || seq.tokens.length >= this.config.maxContextLength) {
        seq.numComputed = Math.min(seq.numComputed, seq.tokens.length);
        this.finish(seq, "length", -1);
        return;
      }
    }
  }

  /**
   * Drafted tokens for a decoding request (empty without speculation or when it backs off). Their
   * blocks come from free or evictable blocks only: drafting never preempts another request.
   */
  private drafts(seq: Sequence): number[] {
    // A token mask (structured output) holds for one position: constrained requests decode one token a step.
    // Prompt logprobs still being collected ride on one-token steps too.
    if (
      !this.speculator ||
      !seq.lease ||
      seq.params.sampling.allowedTokens !== undefined ||
      seq.params.constraint !== undefined ||
      seq.promptLogprobs
    )
      return [];
    // Room after the token this step must produce, within max_new_tokens and the context.
    const room = Math.min(
      seq.params.maxNewTokens - seq.outputLen - 1,
      this.config.maxContextLength - seq.tokens.length - 1,
    );
    if (room <= 0) return [];
    const drafts = this.speculator.propose(seq.tokens, seq.draft, room);
    if (drafts.length === 0) return [];
    const want = Math.ceil((seq.tokens.length + drafts.length) / this.config.blockSize);
    return this.kv.grow(seq.lease, want) ? drafts : [];
  }

  /** The engine step failed: every request in it ends with an error (blocks freed); see stepFailure. */
  failBatch(batch: ScheduledBatch, err: unknown): void {
    const error = stepFailure(err);
    for (const seq of batch.seqs) {
      seq.inFlight = false;
      this.endAborted(seq, { kind: "error", error });
    }
    this.onWork();
  }

  /** The batch restricted to the sequences at `indices` (ascending): part of a failed step, run again. */
  subBatch(batch: ScheduledBatch, indices: readonly number[]): ScheduledBatch {
    const pick = <T>(a: readonly T[]) => indices.map((i) => a[i]!);
    const chunkLens = pick(batch.chunkLens);
    // Decodes come first in a batch (schedule() adds them before any prefill chunk).
    const numDecodeTokens = indices.filter((i) => i < batch.numDecodeTokens).length;
    return {
      steps: pick(batch.steps),
      seqs: pick(batch.seqs),
      chunkLens,
      numDecodeTokens,
      numPrefillTokens: chunkLens.reduce((a, b) => a + b, 0) - numDecodeTokens,
    };
  }

  /** Drops every unlocked prefix-cache entry; returns how many blocks were freed. */
  flushCache(): number {
    return this.kv.flush();
  }

  stats(): SchedulerStats {
    return {
      running: this.running.length,
      queued: this.waiting.length,
      ...this.kv.loadStats(),
      promptTokensTotal: this.counters.prompt,
      cachedTokensTotal: this.counters.cached,
      generationTokensTotal: this.counters.generated,
      preemptionsTotal: this.counters.preemptions,
      cacheHitRate: this.counters.prompt > 0 ? this.counters.cached / this.counters.prompt : 0,
    };
  }

  /**
   * The KV manager's invariants, plus: queued requests hold no blocks. `otherLeases` counts leases
   * held outside the scheduler (decode-side reservations): every other lease belongs to a running request.
   */
  checkIntegrity(otherLeases = 0): string[] {
    const problems = this.kv.checkIntegrity(this.running.length + otherLeases);
    for (const seq of this.waiting)
      if (seq.lease) problems.push(`queued request ${seq.id} holds ${seq.lease.blocks.length} blocks`);
    return problems;
  }

  // ---- internals ----

  /** Why a new request cannot be taken at all (draining, id in use, invalid), or null. */
  private refusal(params: RequestParams): RadixServeError | null {
    if (this.draining)
      return new RadixServeError("draining", "worker is draining: it admits no new requests");
    if (this.byId.has(params.id))
      return new RadixServeError("invalid_request", `request id '${params.id}' is already in use`);
    return validateRequest(params, this.config);
  }

  private enqueue(seq: Sequence): void {
    // Priority desc, then arrival asc. A preempted request keeps its arrival, so it goes back near the front.
    let i = this.waiting.length;
    while (i > 0) {
      const prev = this.waiting[i - 1]!;
      if (prev.priority > seq.priority || (prev.priority === seq.priority && prev.arrival < seq.arrival))
        break;
      i--;
    }
    this.waiting.splice(i, 0, seq);
    seq.status = "waiting";
  }

  private addToBatch(
    batch: { steps: StepSequence[]; seqs: Sequence[]; chunkLens: number[] },
    inBatch: Set<Sequence>,
    seq: Sequence,
    chunk: number,
    drafts: readonly number[] = [],
  ): void {
    const start = seq.numComputed;
    const end = start + chunk;
    const sample = end === seq.tokens.length;
    const constraint = seq.params.constraint;
    const sampling =
      sample && constraint
        ? { ...seq.params.sampling, allowedTokens: constraint.mask() }
        : seq.params.sampling;
    const runEnd = end + drafts.length;
    const step: StepSequence = {
      tokens: Int32Array.from([...seq.tokens.slice(start, end), ...drafts]),
      startPos: start,
      blockTable: Int32Array.from(seq.blocks.slice(0, Math.ceil(runEnd / this.config.blockSize))),
      sample,
      sampling,
    };
    if (drafts.length > 0) step.numDraft = drafts.length;
    seq.promptLogprobs?.ask(step);
    if (sample && needsHistory(sampling)) {
      step.promptTokens = seq.promptTokens;
      step.outputTokens = Int32Array.from(seq.tokens.slice(seq.promptLen));
    }
    seq.inFlight = true;
    inBatch.add(seq);
    batch.steps.push(step);
    batch.seqs.push(seq);
    batch.chunkLens.push(chunk);
  }

  /** Prefill chunk length for seq under the remaining budget (0 = nothing this step). */
  private chunkFor(seq: Sequence, budget: number, prefillsInBatch: number): number {
    const rem = seq.remaining;
    const cap =
      this.config.chunkedPrefillSize > 0 ? this.config.chunkedPrefillSize : Number.POSITIVE_INFINITY;
    const chunk = Math.min(rem, cap, budget);
    if (this.config.chunkedPrefillSize <= 0 && chunk < rem) {
      // Chunking disabled: the whole remainder in one step, alone if it exceeds the budget.
      return prefillsInBatch === 0 ? rem : 0;
    }
    return chunk;
  }

  /**
   * Tries to admit the queue head: prefix match + lock, blocks for its first chunk.
   * Returns the chunk length, or 0 (nothing changed) when it cannot run this step.
   */
  private admit(seq: Sequence, budget: number, prefillsInBatch: number): number {
    const bs = this.config.blockSize;
    let prefix: BlockHash[] = [];
    if (this.config.enablePrefixCache) {
      // Never match the whole sequence: the last token must run to produce logits.
      this.extendHashes(seq, seq.tokens.length);
      const cacheable = Math.min(seq.tokens.length - 1, seq.promptLogprobs?.cacheablePositions ?? Infinity);
      prefix = seq.hashes.slice(0, Math.floor(cacheable / bs));
    }
    seq.numComputed = this.kv.match(prefix) * bs;
    const chunk = this.chunkFor(seq, budget, prefillsInBatch);
    const lease = chunk > 0 ? this.kv.acquire(prefix, Math.ceil((seq.numComputed + chunk) / bs)) : null;
    if (!lease) {
      seq.numComputed = 0;
      return 0;
    }
    seq.lease = lease;
    if (!seq.admittedOnce) {
      seq.admittedOnce = true;
      seq.cachedTokens = seq.numComputed;
      this.counters.prompt += seq.promptLen;
      this.counters.cached += seq.cachedTokens;
    }
    seq.status = "running";
    seq.admitSeq = ++this.admissions;
    this.running.push(seq);
    return chunk;
  }

  /** Makes seq's block table cover `numTokens` positions; evicts, then preempts, when short. */
  private ensureBlocks(seq: Sequence, numTokens: number, inBatch: Set<Sequence>): boolean {
    const want = Math.ceil(numTokens / this.config.blockSize);
    if (!seq.lease || want <= seq.lease.blocks.length) return true;
    for (;;) {
      if (this.kv.grow(seq.lease, want)) return true;
      const victim = this.newestPreemptible(inBatch);
      if (!victim) return false;
      this.preempt(victim);
      if (victim === seq) return false;
    }
  }

  private newestPreemptible(inBatch: Set<Sequence>): Sequence | null {
    let best: Sequence | null = null;
    for (const s of this.running) if (!inBatch.has(s) && (!best || s.admitSeq > best.admitSeq)) best = s;
    return best;
  }

  /** Retract: computed blocks go to the cache, every reference is dropped, back to the queue. */
  private preempt(seq: Sequence): void {
    this.releaseBlocks(seq);
    seq.numComputed = 0;
    seq.numPreemptions++;
    this.counters.preemptions++;
    this.removeRunning(seq);
    this.enqueue(seq);
  }

  private finish(seq: Sequence, reason: FinishReasonName, matchedStop: number): void {
    this.releaseBlocks(seq);
    this.removeRunning(seq);
    seq.status = "done";
    this.byId.delete(seq.id);
    emit(seq, {
      type: "finished",
      reason,
      usage: { promptTokens: seq.promptLen, completionTokens: seq.outputLen, cachedTokens: seq.cachedTokens },
      matchedStopTokenId: matchedStop,
    });
  }

  private endAborted(seq: Sequence, cause: AbortCause): void {
    if (seq.status === "waiting") {
      const i = this.waiting.indexOf(seq);
      if (i >= 0) this.waiting.splice(i, 1);
    }
    if (cause.kind === "client" || cause.kind === "explicit") {
      this.finish(seq, "abort", -1);
      return;
    }
    this.releaseBlocks(seq);
    this.removeRunning(seq);
    seq.status = "done";
    this.byId.delete(seq.id);
    const error =
      cause.kind === "deadline"
        ? new RadixServeError("deadline_exceeded", `request ${seq.id} passed its deadline`)
        : cause.error;
    emit(seq, { type: "error", error });
  }

  /** Caches the computed full blocks (unless disabled) and releases the request's lease. */
  private releaseBlocks(seq: Sequence): void {
    if (!seq.lease) return;
    this.cacheComputed(seq, false);
    this.kv.release(seq.lease);
    seq.lease = null;
  }

  /** Inserts the full computed blocks into the cache; with `lock`, moves the request's lock to the new deepest node. */
  private cacheComputed(seq: Sequence, lock: boolean): void {
    if (!this.config.enablePrefixCache || !seq.lease) return;
    const full = Math.floor(seq.numComputed / this.config.blockSize);
    if (full === 0) return;
    this.extendHashes(seq, full * this.config.blockSize);
    this.kv.commit(seq.lease, seq.hashes.slice(0, full), lock);
  }

  private extendHashes(seq: Sequence, numTokens: number): void {
    const full = Math.floor(numTokens / this.config.blockSize);
    if (seq.hashes.length >= full) return;
    seq.hashes = this.kv.hashes(seq.tokens.slice(0, full * this.config.blockSize), seq.hashes);
  }

  private removeRunning(seq: Sequence): void {
    const i = this.running.indexOf(seq);
    if (i >= 0) this.running.splice(i, 1);
  }
}

/**
 * Delivers an event. A sink that throws (e.g. writing to a dead stream) must not leave the
 * scheduler half-way through a post-process, so the exception is contained here and reported
 * through onSinkError.
 */
function emit(seq: Sequence, ev: RequestEvent): void {
  try {
    seq.sink(ev);
  } catch (err) {
    onSinkError(seq.id, err);
  }
}

let onSinkError: (requestId: string, err: unknown) => void = (requestId, err) => {
  process.emitWarning(`request ${requestId}: event sink threw: ${String(err)}`);
};

/** Replaces the reporter of sink exceptions (the worker routes them to its logger). */
export function setSinkErrorHandler(handler: (requestId: string, err: unknown) => void): void {
  onSinkError = handler;
}

/** Feeds a sampled token to the request's grammar; an error when the grammar refuses it. */
function advanceConstraint(seq: Sequence, token: number): RadixServeError | null {
  try {
    seq.params.constraint?.accept(token);
    return null;
  } catch (e) {
    return new RadixServeError(
      "internal",
      `token ${token} of request ${seq.id} is outside its grammar: ${(e as Error).message}`,
    );
  }
}

function needsHistory(s: RequestParams["sampling"]): boolean {
  return (
    (s.repetitionPenalty !== undefined && s.repetitionPenalty !== 1) ||
    (s.frequencyPenalty !== undefined && s.frequencyPenalty !== 0) ||
    (s.presencePenalty !== undefined && s.presencePenalty !== 0)
  );
}
