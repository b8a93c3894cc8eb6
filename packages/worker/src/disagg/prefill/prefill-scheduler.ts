/**
 * The prefill worker's scheduler: batches prompt chunks of many requests into engine steps, with
 * the same KV manager (blocks and radix prefix cache, kv/kv-manager.ts) as the unified scheduler,
 * but no decode phase. A job's life: waiting -> running (admitted: prefix matched and locked, blocks
 * for the whole prompt allocated) -> computed (first token sampled) -> released (its transfer
 * ended; blocks back to the allocator, computed full blocks stay in the prefix cache).
 *
 * Each step, under one prefill-token budget (maxPrefillTokens, at most chunkedPrefillSize per
 * job): running jobs continue oldest first, then waiting jobs are admitted FCFS while the number
 * of jobs holding blocks stays under maxRunningRequests and the pool (after evicting unlocked
 * cache entries, LRU) has room for the whole prompt. Admission is head-of-line, with one
 * exception: short prompts (shortPrefillTokens) get a step of their own, admitted past longer ones,
 * whenever a long prompt would otherwise make them wait out its chunk (a 32-token prompt batched
 * with a 512-token chunk takes that chunk's ~60-80 ms here; alone, ~5 ms). Short-only steps run
 * back to back only until they computed half a chunk's tokens, then a normal step runs, so a stream
 * of short prompts slows a long one by at most ~1/3 and cannot starve it. A computed job
 * keeps its blocks until its transfer session releases it, so a slow decode worker holds P's
 * memory and, through maxRunningRequests, throttles admission: the bound on buffering.
 *
 * Full blocks enter the prefix cache as each chunk completes (a concurrent request with the same
 * prefix shares them at once); the job locks the deepest node it uses.
 */
import { RadixServeError, type Result } from "@radixserve/core";
import type { StepOutput, StepSequence } from "@radixserve/engine-native";
import { KvManager } from "../../kv/kv-manager.js";
import { type SchedulerConfig, stepFailure, validateRequest } from "../../scheduler/index.js";
import type { PrefillJob } from "./prefill-job.js";

export interface PrefillBatch {
  readonly steps: StepSequence[];
  readonly jobs: PrefillJob[];
  readonly chunkLens: number[];
}

export interface PrefillStats {
  running: number;
  queued: number;
  kvBlocksTotal: number;
  kvBlocksFree: number;
  kvBlocksEvictable: number;
  kvBlocksCached: number;
  promptTokensTotal: number;
  cachedTokensTotal: number;
  /** First tokens sampled (one per computed prompt). */
  generatedTokensTotal: number;
  cacheHitRate: number;
}

export class PrefillScheduler {
  /** The owner of this worker's KV blocks; each admitted job holds one lease. */
  readonly kv: KvManager;
  private readonly waiting: PrefillJob[] = [];
  /** Jobs holding blocks (running or computed). */
  private readonly active: PrefillJob[] = [];
  private readonly byId = new Map<string, PrefillJob>();
  private arrivals = 0;
  /** Tokens of short-only steps since the last normal step (bounded: see shortBudget). */
  private shortTokensSinceLong = 0;
  private draining = false;
  private readonly counters = { prompt: 0, cached: 0, generated: 0 };
  onWork: () => void = () => {};

  constructor(readonly config: SchedulerConfig) {
    this.kv = new KvManager(config);
  }

  submit(job: PrefillJob): Result<void> {
    if (this.draining)
      return { ok: false, error: new RadixServeError("draining", "prefill worker is draining") };
    if (this.byId.has(job.id))
      return {
        ok: false,
        error: new RadixServeError("invalid_request", `request id '${job.id}' is already in use`),
      };
    // max_new_tokens does not apply here (one token is sampled); validate the prompt alone.
    const invalid = validateRequest({ ...job.params, maxNewTokens: 1 }, this.config);
    if (invalid) return { ok: false, error: invalid };
    if (this.waiting.length >= this.config.maxQueuedRequests)
      return {
        ok: false,
        error: new RadixServeError("queue_full", `prefill queue is full (${this.waiting.length})`),
      };
    job.arrival = this.arrivals++;
    this.byId.set(job.id, job);
    this.waiting.push(job);
    this.onWork();
    return { ok: true, value: undefined };
  }

  /** Ends the job's hold: blocks back (computed full blocks stay cached). Safe at any time, idempotent. */
  release(job: PrefillJob): void {
    if (job.status === "released") return;
    if (job.inFlight) {
      job.pendingRelease = true;
      return;
    }
    const w = this.waiting.indexOf(job);
    if (w >= 0) this.waiting.splice(w, 1);
    const a = this.active.indexOf(job);
    if (a >= 0) this.active.splice(a, 1);
    if (job.lease) this.kv.release(job.lease);
    job.lease = null;
    job.status = "released";
    this.byId.delete(job.id);
    this.onWork();
  }

  drain(): void {
    this.draining = true;
  }

  get idle(): boolean {
    return this.waiting.length === 0 && this.active.length === 0;
  }

  schedule(): PrefillBatch | null {
    const short = this.config.shortPrefillTokens ?? 0;
    if (short > 0 && this.shortTokensSinceLong < this.shortBudget()) {
      const b = this.scheduleShort(short);
      if (b) {
        this.shortTokensSinceLong += b.chunkLens.reduce((a, n) => a + n, 0);
        return b;
      }
    }
    this.shortTokensSinceLong = 0;
    const batch: PrefillBatch = { steps: [], jobs: [], chunkLens: [] };
    let budget = Math.max(1, this.config.maxPrefillTokens);
    for (const job of this.active) {
      if (budget <= 0) break;
      if (job.status !== "running" || job.inFlight || job.remaining <= 0) continue;
      budget -= this.add(batch, job, budget);
    }
    while (budget > 0 && this.waiting.length > 0 && this.active.length < this.config.maxRunningRequests) {
      const job = this.waiting[0]!;
      if (!this.admit(job)) break;
      this.waiting.shift();
      this.active.push(job);
      budget -= this.add(batch, job, budget);
    }
    return batch.jobs.length > 0 ? batch : null;
  }

  postProcess(batch: PrefillBatch, outputs: readonly (StepOutput | null)[]): void {
    for (let i = 0; i < batch.jobs.length; i++) {
      const job = batch.jobs[i]!;
      job.inFlight = false;
      job.numComputed += batch.chunkLens[i]!;
      if (job.pendingRelease) {
        this.release(job);
        continue;
      }
      this.cacheComputed(job);
      job.promptLogprobs?.record(batch.steps[i]!.startPos, outputs[i]);
      if (batch.steps[i]!.sample) {
        const out = outputs[i];
        if (!out || !Number.isInteger(out.token) || out.token < 0 || out.token >= this.config.vocabSize) {
          job.onFailure(new Error(`engine returned no valid token for request ${job.id}`));
          continue;
        }
        job.first = out;
        job.status = "computed";
        this.counters.generated += 1;
      }
      job.onProgress();
    }
    this.onWork();
  }

  failBatch(batch: PrefillBatch, err: unknown): void {
    const error = stepFailure(err);
    for (const job of batch.jobs) {
      job.inFlight = false;
      if (job.pendingRelease) this.release(job);
      else job.onFailure(error);
    }
    this.onWork();
  }

  /** The batch restricted to the jobs at `indices` (ascending): part of a failed step, run again. */
  subBatch(batch: PrefillBatch, indices: readonly number[]): PrefillBatch {
    return {
      steps: indices.map((i) => batch.steps[i]!),
      jobs: indices.map((i) => batch.jobs[i]!),
      chunkLens: indices.map((i) => batch.chunkLens[i]!),
    };
  }

  flushCache(): number {
    return this.kv.flush();
  }

  stats(): PrefillStats {
    return {
      running: this.active.length,
      queued: this.waiting.length,
      ...this.kv.loadStats(),
      promptTokensTotal: this.counters.prompt,
      cachedTokensTotal: this.counters.cached,
      generatedTokensTotal: this.counters.generated,
      cacheHitRate: this.counters.prompt > 0 ? this.counters.cached / this.counters.prompt : 0,
    };
  }

  /** The KV manager's invariants plus: the live leases are exactly the active jobs'. */
  checkIntegrity(): string[] {
    const problems = this.kv.checkIntegrity(this.active.length);
    for (const j of this.active) if (!j.lease) problems.push(`active job ${j.id} holds no lease`);
    return problems;
  }

  // ---- internals ----

  /**
   * Short-only steps may run back to back until they have computed this many tokens; then a normal
   * step runs. Half a long chunk: a flood of short prompts slows a long one by at most ~1/3.
   */
  private shortBudget(): number {
    const chunk =
      this.config.chunkedPrefillSize > 0 ? this.config.chunkedPrefillSize : this.config.maxPrefillTokens;
    return Math.max(1, Math.floor(chunk / 2));
  }

  /**
   * A step of only the jobs with at most `short` prompt tokens left, when a longer job is there to
   * slow them down (running, or waiting ahead of them); null otherwise (the normal step serves).
   */
  private scheduleShort(short: number): PrefillBatch | null {
    const ready = (j: PrefillJob) => j.status === "running" && !j.inFlight && j.remaining > 0;
    const long =
      this.active.some((j) => ready(j) && j.remaining > short) ||
      this.waiting.some((j) => j.remaining > short);
    if (!long) return null;
    const batch: PrefillBatch = { steps: [], jobs: [], chunkLens: [] };
    let budget = Math.max(1, this.config.maxPrefillTokens);
    for (const job of this.active) {
      if (budget <= 0) break;
      if (ready(job) && job.remaining <= short) budget -= this.add(batch, job, budget);
    }
    for (let i = 0; i < this.waiting.length && budget > 0; ) {
      const job = this.waiting[i]!;
      if (job.remaining > short || this.active.length >= this.config.maxRunningRequests || !this.admit(job)) {
        i++;
        continue;
      }
      this.waiting.splice(i, 1);
      this.active.push(job);
      budget -= this.add(batch, job, budget);
    }
    return batch.jobs.length > 0 ? batch : null;
  }

  private add(batch: PrefillBatch, job: PrefillJob, budget: number): number {
    const cap =
      this.config.chunkedPrefillSize > 0 ? this.config.chunkedPrefillSize : Number.POSITIVE_INFINITY;
    const chunk = Math.min(job.remaining, cap, budget);
    const start = job.numComputed;
    const end = start + chunk;
    const bs = this.config.blockSize;
    const sample = end === job.promptLen;
    const step: StepSequence = {
      tokens: job.prompt.subarray(start, end),
      startPos: start,
      blockTable: Int32Array.from(job.blocks.slice(0, Math.ceil(end / bs))),
      sample,
      sampling: job.params.sampling,
    };
    job.promptLogprobs?.ask(step);
    if (sample) {
      step.promptTokens = job.prompt;
      step.outputTokens = new Int32Array(0);
    }
    job.inFlight = true;
    batch.steps.push(step);
    batch.jobs.push(job);
    batch.chunkLens.push(chunk);
    return chunk;
  }

  /** Prefix match + lock, then blocks for the rest of the prompt; false (nothing changed) when the pool is short. */
  private admit(job: PrefillJob): boolean {
    const bs = this.config.blockSize;
    if (this.config.enablePrefixCache) this.extendHashes(job);
    // Never match the whole prompt: the last token must run to produce the first token.
    const cacheable = Math.min(job.promptLen - 1, job.promptLogprobs?.cacheablePositions ?? Infinity);
    const prefix = job.hashes.slice(0, Math.floor(cacheable / bs));
    const lease = this.kv.acquire(prefix, Math.ceil(job.promptLen / bs));
    if (!lease) return false;
    job.lease = lease;
    job.numComputed = lease.cachedBlocks * bs;
    job.cachedTokens = job.numComputed;
    job.status = "running";
    this.counters.prompt += job.promptLen;
    this.counters.cached += job.cachedTokens;
    job.onAdmitted();
    return true;
  }

  private cacheComputed(job: PrefillJob): void {
    if (!this.config.enablePrefixCache || !job.lease) return;
    const full = Math.floor(job.numComputed / this.config.blockSize);
    if (full === 0) return;
    this.extendHashes(job);
    this.kv.commit(job.lease, job.hashes.slice(0, full));
  }

  private extendHashes(job: PrefillJob): void {
    const bs = this.config.blockSize;
    const full = Math.floor(job.promptLen / bs);
    if (job.hashes.length >= full) return;
    job.hashes = this.kv.hashes(job.prompt.subarray(0, full * bs), job.hashes);
  }
}
