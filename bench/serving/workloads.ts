/**
 * Workloads of the serving benchmark, as token-id prompts so input lengths are exact:
 * - `random`: independent prompts of random tokens, input length drawn in
 *   [len * rangeRatio, len], output length likewise (SGLang's `random` dataset).
 * - `generated-shared-prefix`: `groups` system prompts of `systemLen` tokens, each followed by
 *   `promptsPerGroup` different questions of `questionLen` tokens (SGLang's
 *   `generated-shared-prefix`): the prefix cache should serve the system prompt after its first use.
 * Requests are shuffled (seeded) so groups interleave, as real traffic does.
 */

export interface BenchRequest {
  promptIds: number[];
  outputLen: number;
  /** Shared-prefix group, -1 when none. */
  group: number;
}

/** Mulberry32: a small seeded PRNG, so a workload is the same on every run. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Token ids to draw from: [lo, hi), avoiding the low ids where tokenizers keep special tokens. */
export interface TokenRange {
  lo: number;
  hi: number;
}

function randomIds(n: number, range: TokenRange, rand: () => number): number[] {
  return Array.from({ length: n }, () => range.lo + Math.floor(rand() * (range.hi - range.lo)));
}

function lenIn(len: number, ratio: number, rand: () => number): number {
  const lo = Math.max(1, Math.floor(len * ratio));
  return lo + Math.floor(rand() * (len - lo + 1));
}

function shuffle<T>(xs: T[], rand: () => number): T[] {
  for (let i = xs.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [xs[i], xs[j]] = [xs[j]!, xs[i]!];
  }
  return xs;
}

export function randomWorkload(opts: {
  numPrompts: number;
  inputLen: number;
  outputLen: number;
  rangeRatio: number;
  range: TokenRange;
  seed: number;
}): BenchRequest[] {
  const rand = rng(opts.seed);
  return Array.from({ length: opts.numPrompts }, () => ({
    promptIds: randomIds(lenIn(opts.inputLen, opts.rangeRatio, rand), opts.range, rand),
    outputLen: lenIn(opts.outputLen, opts.rangeRatio, rand),
    group: -1,
  }));
}

export function sharedPrefixWorkload(opts: {
  groups: number;
  promptsPerGroup: number;
  systemLen: number;
  questionLen: number;
  outputLen: number;
  range: TokenRange;
  seed: number;
}): BenchRequest[] {
  const rand = rng(opts.seed);
  const out: BenchRequest[] = [];
  for (let g = 0; g < opts.groups; g++) {
    const system = randomIds(opts.systemLen, opts.range, rand);
    for (let i = 0; i < opts.promptsPerGroup; i++) {
      out.push({
        promptIds: [...system, ...randomIds(opts.questionLen, opts.range, rand)],
        outputLen: opts.outputLen,
        group: g,
      });
    }
  }
  return shuffle(out, rand);
}
