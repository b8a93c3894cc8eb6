/**
 * Speculative decoding in the scheduler: who drafts, how many, and when to stop drafting.
 *
 * A decoding request with drafts runs [last token, d_1 .. d_K] in one engine step; the engine
 * verifies them (StepSequence.numDraft) and returns the accepted drafts plus one target token. The
 * scheduler appends those, drops the KV blocks that only rejected drafts touched (KvManager.truncate),
 * and commits to the prefix cache only positions whose tokens were accepted (numComputed never
 * counts a draft that was not accepted).
 *
 * Proposers:
 *  - "ngram" (prompt lookup): the longest suffix of the request's tokens (NGRAM_MAX down to
 *    NGRAM_MIN tokens) that occurred earlier in prompt + output; the tokens that followed its most
 *    recent earlier occurrence are the draft. No model, no state; pays on repetition-heavy work
 *    (editing code, quoting, JSON transforms).
 *
 * Requests whose sampling carries a token mask (structured output) never draft: a mask holds for
 * one position, so they decode one token per step, exactly as without speculation.
 *
 * Back-off (speculation must never make decoding slower):
 *  - batch: with more decoding requests in a step than `maxBatchSize` the step is compute-bound,
 *    verification positions cost nearly as much as new tokens, so nobody drafts.
 *  - acceptance: a request whose drafts were all rejected skips drafting for 1, 2, 4 .. 16 of its
 *    steps (doubling on each such step, reset on any acceptance).
 *  - measured pay-off: the worker keeps a moving average of tokens produced per second in decode-only
 *    steps with drafts and in those without (every 4th step is plain until plain steps are
 *    measured). When drafting steps produce fewer tokens per second (verification positions cost
 *    more than the accepted tokens save, as on a CPU whose multi-row kernels are not much cheaper
 *    than as many single steps), drafting stops; one step in PROBE_INTERVAL runs the mode not
 *    preferred, so the choice follows the workload.
 */

/** --speculative-* flags (SGLang's names). */
export interface SpeculativeConfig {
  /** --speculative-algorithm: "ngram" (prompt lookup). */
  algorithm: "ngram";
  /** --speculative-num-draft-tokens: most drafted tokens verified per request per step (1..16). */
  numDraftTokens: number;
  /** --speculative-max-batch-size: no drafting in steps with more decoding requests. Default 8. */
  maxBatchSize: number;
  /**
   * Stop drafting while drafting steps measure fewer tokens per second than plain ones (the
   * measured pay-off back-off below). Default true; false drafts whenever the other rules allow
   * (tests that need drafting to happen regardless of timing).
   */
  measurePayoff?: boolean;
}

export const SPECULATIVE_DEFAULTS = { numDraftTokens: 4, maxBatchSize: 8 } as const;
export const SPECULATIVE_ALGORITHMS = ["ngram"] as const;

const NGRAM_MAX = 4;
const NGRAM_MIN = 2;
const MAX_BACKOFF_STEPS = 16;
const PROBE_INTERVAL = 16;
/** Weight of the newest step in the tokens-per-second averages. */
const EMA_WEIGHT = 0.2;

/**
 * Prompt lookup: up to `k` tokens that followed the most recent earlier occurrence of the longest
 * matching suffix (NGRAM_MAX .. NGRAM_MIN tokens) of `tokens`. Empty when nothing matches.
 */
export function ngramDraft(tokens: readonly number[], k: number): number[] {
  const len = tokens.length;
  if (k <= 0) return [];
  for (let n = Math.min(NGRAM_MAX, len - 1); n >= NGRAM_MIN; n--) {
    // Most recent start j < len - n whose n tokens equal the suffix.
    for (let j = len - n - 1; j >= 0; j--) {
      let same = true;
      for (let i = 0; i < n; i++) {
        if (tokens[j + i] !== tokens[len - n + i]) {
          same = false;
          break;
        }
      }
      if (same) return tokens.slice(j + n, Math.min(j + n + k, len)) as number[];
    }
  }
  return [];
}

/**
 * Where drafts come from. `propose` is called once per decoding request per step, before the step is
 * built, with the request's prompt + output so far; it returns at most `k` tokens (possibly none)
 * and must not keep `tokens`.
 */
export interface DraftProposer {
  propose(tokens: readonly number[], k: number): number[];
}

/** One proposer per --speculative-algorithm. */
export const DRAFT_PROPOSERS: Readonly<Record<SpeculativeConfig["algorithm"], () => DraftProposer>> = {
  ngram: () => ({ propose: ngramDraft }),
};

/** Per-request acceptance state for back-off. */
export interface DraftState {
  /** Steps left to skip drafting. */
  skip: number;
  /** Skip length after the next all-rejected step. */
  nextBackoff: number;
}

export function newDraftState(): DraftState {
  return { skip: 0, nextBackoff: 1 };
}

/** Running totals for metrics: proposed / accepted drafts and the accepted-length histogram. */
export interface SpeculativeCounters {
  /** Verification steps (a request with drafts in a step). */
  verifySteps: number;
  proposedTokens: number;
  acceptedTokens: number;
  /** acceptedLength[n]: verification steps that accepted n drafts (0..numDraftTokens). */
  acceptedLength: number[];
}

export class Speculator {
  readonly config: SpeculativeConfig;
  readonly counters: SpeculativeCounters;
  private readonly proposer: DraftProposer;
  /** Tokens per millisecond of decode-only steps without and with drafts (null: not measured yet). */
  private plainRate: number | null = null;
  private draftRate: number | null = null;
  private steps = 0;
  /** Called after each verification (the worker's metrics observe it). */
  onVerify: (proposed: number, accepted: number) => void = () => {};

  constructor(config: SpeculativeConfig, proposer: DraftProposer = DRAFT_PROPOSERS[config.algorithm]()) {
    this.config = config;
    this.proposer = proposer;
    this.counters = {
      verifySteps: 0,
      proposedTokens: 0,
      acceptedTokens: 0,
      acceptedLength: new Array<number>(config.numDraftTokens + 1).fill(0),
    };
  }

  /**
   * Whether this step's decoding requests may draft: within the batch-size limit, and while drafting
   * steps measured no slower than plain ones (else one probe step every PROBE_INTERVAL).
   */
  stepAllowed(decodesInStep: number): boolean {
    if (decodesInStep > this.config.maxBatchSize) return false;
    if (this.config.measurePayoff === false) return true;
    this.steps++;
    const preferDraft =
      this.draftRate === null || this.plainRate === null || this.draftRate >= this.plainRate;
    // Measure plain steps early, then probe the mode not preferred once every PROBE_INTERVAL steps.
    if (this.plainRate === null && this.steps % 4 === 0) return false;
    if (this.steps % PROBE_INTERVAL === 0) return !preferDraft;
    return preferDraft;
  }

  /** A decode-only step finished: `tokens` produced in `ms`, with or without drafts. */
  recordStep(drafted: boolean, tokens: number, ms: number): void {
    if (ms <= 0 || tokens <= 0) return;
    const rate = tokens / ms;
    if (drafted)
      this.draftRate = this.draftRate === null ? rate : this.draftRate + EMA_WEIGHT * (rate - this.draftRate);
    else
      this.plainRate = this.plainRate === null ? rate : this.plainRate + EMA_WEIGHT * (rate - this.plainRate);
  }

  /**
   * Drafts for one decoding request, at most `room` tokens (what max_new_tokens and the context
   * leave after the token this step must produce). Empty when it backs off or finds nothing.
   */
  propose(tokens: readonly number[], state: DraftState, room: number): number[] {
    if (state.skip > 0) {
      state.skip--;
      return [];
    }
    return this.proposer.propose(tokens, Math.min(this.config.numDraftTokens, room));
  }

  /** Records one verification: `proposed` drafts, of which `accepted` were accepted. */
  record(state: DraftState, proposed: number, accepted: number): void {
    const c = this.counters;
    c.verifySteps++;
    c.proposedTokens += proposed;
    c.acceptedTokens += accepted;
    c.acceptedLength[accepted] = (c.acceptedLength[accepted] ?? 0) + 1;
    this.onVerify(proposed, accepted);
    if (accepted > 0) {
      state.nextBackoff = 1;
      return;
    }
    state.skip = state.nextBackoff;
    state.nextBackoff = Math.min(state.nextBackoff * 2, MAX_BACKOFF_STEPS);
  }
}
