/**
 * Validates a step's arguments before they reach C++ (which re-checks cheaply) and turns them into
 * the addon's plain shape. Every error names the sequence and field at fault.
 */
import { EngineError } from "./errors.js";
import type { NativeSampling, NativeStepOut, NativeStepSeq } from "./native.js";
import type { PromptLogprob, SamplingParams, StepSequence, TopLogprob } from "./types.js";

export interface StepLimits {
  vocabSize: number;
  maxPositionEmbeddings: number;
  numBlocks: number;
  blockSize: number;
}

function bad(message: string): never {
  throw new EngineError("input_invalid", message);
}

function checkInt32Array(v: unknown, what: string): Int32Array {
  if (!(v instanceof Int32Array)) bad(`${what} must be an Int32Array`);
  return v;
}

function num(
  v: number | undefined,
  def: number,
  what: string,
  ok: (x: number) => boolean,
  range: string,
): number {
  if (v === undefined) return def;
  if (typeof v !== "number" || !Number.isFinite(v) || !ok(v)) bad(`${what} = ${v} is invalid: ${range}`);
  return v;
}

function logitBias(b: SamplingParams["logitBias"], vocab: number, what: string) {
  if (b === undefined) return {};
  const tokenIds = checkInt32Array(b.tokenIds, `${what}.tokenIds`);
  if (!(b.values instanceof Float32Array) || b.values.length !== tokenIds.length)
    bad(`${what}.values must be a Float32Array as long as ${what}.tokenIds`);
  checkTokens(tokenIds, vocab, `${what}.tokenIds`);
  for (let i = 0; i < b.values.length; i++) {
    const v = b.values[i]!;
    if (!(Math.abs(v) <= 100)) bad(`${what}.values[${i}] = ${v} is invalid: in [-100, 100]`);
  }
  return { biasTokens: tokenIds, biasValues: b.values };
}

function allowedTokens(mask: Uint32Array | undefined, vocab: number, what: string) {
  if (mask === undefined) return {};
  const words = Math.ceil(vocab / 32);
  if (!(mask instanceof Uint32Array) || mask.length !== words)
    bad(`${what} must be a Uint32Array of ${words} words (one bit per token of ${vocab})`);
  let any = false;
  for (let w = 0; w < words && !any; w++) any = mask[w] !== 0;
  if (!any) bad(`${what} allows no token`);
  return { allowedTokens: mask };
}

function sampling(p: SamplingParams | undefined, vocab: number, what: string): NativeSampling {
  const s = p ?? {};
  const seed =
    s.seed === undefined
      ? Math.floor(Math.random() * Number.MAX_SAFE_INTEGER)
      : num(
          s.seed,
          0,
          `${what}.seed`,
          (x) => Number.isSafeInteger(x) && x >= 0,
          "a non-negative safe integer",
        );
  return {
    temperature: num(s.temperature, 0, `${what}.temperature`, (x) => x >= 0, "must be >= 0"),
    topK: num(s.topK, 0, `${what}.topK`, Number.isInteger, "must be an integer"),
    topP: num(s.topP, 1, `${what}.topP`, (x) => x > 0 && x <= 1, "must be in (0, 1]"),
    minP: num(s.minP, 0, `${what}.minP`, (x) => x >= 0 && x <= 1, "must be in [0, 1]"),
    repetitionPenalty: num(s.repetitionPenalty, 1, `${what}.repetitionPenalty`, (x) => x > 0, "must be > 0"),
    frequencyPenalty: num(
      s.frequencyPenalty,
      0,
      `${what}.frequencyPenalty`,
      (x) => Math.abs(x) <= 2,
      "in [-2, 2]",
    ),
    presencePenalty: num(
      s.presencePenalty,
      0,
      `${what}.presencePenalty`,
      (x) => Math.abs(x) <= 2,
      "in [-2, 2]",
    ),
    seed,
    logprobs: num(
      s.logprobs,
      -1,
      `${what}.logprobs`,
      (x) => Number.isInteger(x) && x >= -1 && x <= 20,
      "must be an integer in -1..20",
    ),
    ...logitBias(s.logitBias, vocab, `${what}.logitBias`),
    ...allowedTokens(s.allowedTokens, vocab, `${what}.allowedTokens`),
  };
}

function checkTokens(a: Int32Array, vocab: number, what: string): void {
  for (let i = 0; i < a.length; i++) {
    const t = a[i]!;
    if (t < 0 || t >= vocab) bad(`${what}[${i}] = ${t} is not a token id (vocabulary size ${vocab})`);
  }
}

/** Throws an EngineError("input_invalid") for the first problem found. */
export function prepareStep(seqs: StepSequence[], lim: StepLimits): NativeStepSeq[] {
  if (!Array.isArray(seqs)) bad("step expects an array of sequences");
  const writers = new Map<number, number>(); // block id -> index of the sequence writing into it
  return seqs.map((s, i) => {
    const w = `seqs[${i}]`;
    if (typeof s !== "object" || s === null) bad(`${w} must be an object`);
    const tokens = checkInt32Array(s.tokens, `${w}.tokens`);
    if (tokens.length === 0) bad(`${w}.tokens is empty: a step runs at least one token per sequence`);
    checkTokens(tokens, lim.vocabSize, `${w}.tokens`);
    if (!Number.isInteger(s.startPos) || s.startPos < 0)
      bad(`${w}.startPos = ${s.startPos} must be an integer >= 0`);
    const end = s.startPos + tokens.length;
    if (end > lim.maxPositionEmbeddings)
      bad(
        `${w}: positions ${s.startPos}..${end - 1} go past the context length (max_position_embeddings ${lim.maxPositionEmbeddings})`,
      );
    const table = checkInt32Array(s.blockTable, `${w}.blockTable`);
    const need = Math.ceil(end / lim.blockSize);
    if (table.length < need)
      bad(
        `${w}.blockTable has ${table.length} blocks but positions up to ${end - 1} need ${need} (blockSize ${lim.blockSize})`,
      );
    for (let j = 0; j < table.length; j++) {
      const b = table[j]!;
      if (b < 0 || b >= lim.numBlocks)
        bad(`${w}.blockTable[${j}] = ${b} is out of range: valid block ids are 0..${lim.numBlocks - 1}`);
    }
    for (let j = Math.floor(s.startPos / lim.blockSize); j < need; j++) {
      const b = table[j]!;
      const other = writers.get(b);
      if (other !== undefined && other !== i)
        bad(`${w} writes KV block ${b}, which seqs[${other}] also writes in this step`);
      writers.set(b, i);
    }
    if (s.returnLogits !== undefined && !["none", "last", "all"].includes(s.returnLogits))
      bad(`${w}.returnLogits must be "none", "last" or "all"`);
    const numDraft = s.numDraft ?? 0;
    if (!Number.isInteger(numDraft) || numDraft < 0 || numDraft >= tokens.length)
      bad(`${w}.numDraft = ${s.numDraft} must be an integer in 0..${tokens.length - 1} (tokens.length - 1)`);
    if (numDraft > 0 && s.sample !== true) bad(`${w}.numDraft needs sample: drafts are verified by sampling`);
    if (numDraft > 0 && s.sampling?.allowedTokens !== undefined)
      bad(
        `${w}.numDraft cannot be combined with sampling.allowedTokens: a token mask holds for one position`,
      );
    const promptTokens =
      s.promptTokens === undefined ? undefined : checkInt32Array(s.promptTokens, `${w}.promptTokens`);
    const outputTokens =
      s.outputTokens === undefined ? undefined : checkInt32Array(s.outputTokens, `${w}.outputTokens`);
    const targets = promptLogprobTargets(s, tokens.length, lim.vocabSize, w);
    return {
      ...targets,
      tokens,
      startPos: s.startPos,
      blockTable: table,
      sample: s.sample === true,
      sampling: sampling(s.sampling, lim.vocabSize, `${w}.sampling`),
      ...(promptTokens ? { promptTokens } : {}),
      ...(outputTokens ? { outputTokens } : {}),
      logitsMode: s.returnLogits === "all" ? 2 : s.returnLogits === "last" ? 1 : 0,
      numDraft,
    };
  });
}

function promptLogprobTargets(
  s: StepSequence,
  n: number,
  vocab: number,
  w: string,
): { logprobTargets?: Int32Array; logprobTopN?: number } {
  const p = s.promptLogprobs;
  if (p === undefined) return {};
  if (typeof p !== "object" || p === null) bad(`${w}.promptLogprobs must be an object`);
  const targets = checkInt32Array(p.targets, `${w}.promptLogprobs.targets`);
  if (targets.length !== n)
    bad(`${w}.promptLogprobs.targets has ${targets.length} entries for ${n} tokens: give one per token`);
  for (let j = 0; j < n; j++) {
    const t = targets[j]!;
    if (t < -1 || t >= vocab)
      bad(`${w}.promptLogprobs.targets[${j}] = ${t} is neither -1 nor a token id (vocabulary size ${vocab})`);
  }
  const top = num(
    p.top,
    0,
    `${w}.promptLogprobs.top`,
    (x) => Number.isInteger(x) && x >= 0 && x <= 20,
    "must be an integer in 0..20",
  );
  return { logprobTargets: targets, logprobTopN: top };
}

/** Block id lists for export/import/copy. */
export function checkBlockIds(ids: unknown, numBlocks: number, what: string): Int32Array {
  const a = checkInt32Array(ids, what);
  for (let i = 0; i < a.length; i++) {
    const b = a[i]!;
    if (b < 0 || b >= numBlocks)
      bad(`${what}[${i}] = ${b} is out of range: valid block ids are 0..${numBlocks - 1}`);
  }
  return a;
}

/** The addon's flat prompt-logprob arrays as one entry per token (null where not asked). */
export function promptLogprobsOf(r: NativeStepOut, targets: Int32Array): (PromptLogprob | null)[] {
  const lp = r.targetLogprobs ?? new Float32Array(0);
  const tt = r.targetTopTokens;
  const tl = r.targetTopLogprobs;
  const n = tt && lp.length > 0 ? tt.length / lp.length : 0;
  return Array.from(lp, (logprob, j): PromptLogprob | null => {
    if (Number.isNaN(logprob)) return null;
    const top: TopLogprob[] = [];
    for (let k = 0; k < n; k++) {
      const token = tt![j * n + k]!;
      if (token >= 0) top.push({ token, logprob: tl![j * n + k]! });
    }
    return { token: targets[j]!, logprob, top };
  });
}
