/**
 * Model generation defaults from generation_config.json (and config.json for the EOS ids), the
 * way vLLM applies them: temperature / top_p / top_k / min_p / repetition_penalty /
 * max_new_tokens become the defaults of a request's sampling parameters, and every EOS id
 * becomes a stop token. `do_sample` is reported but, as in vLLM, does not switch the other
 * defaults off.
 */
import { RadixServeError } from "../errors/index.js";
import { readModelJson } from "./model-files.js";
import type { ModelTokenizer } from "./tokenizer.js";

export interface GenerationDefaults {
  temperature?: number;
  topP?: number;
  topK?: number;
  minP?: number;
  repetitionPenalty?: number;
  maxNewTokens?: number;
  doSample?: boolean;
  bosTokenId: number | null;
  /** Token ids that end generation: generation_config's eos_token_id (int or list), config.json's, the tokenizer's EOS. Sorted, unique. */
  stopTokenIds: number[];
}

const NUMERIC_FIELDS = [
  ["temperature", "temperature"],
  ["top_p", "topP"],
  ["top_k", "topK"],
  ["min_p", "minP"],
  ["repetition_penalty", "repetitionPenalty"],
  ["max_new_tokens", "maxNewTokens"],
] as const;

function tokenIds(v: unknown, where: string): number[] {
  if (v === undefined || v === null) return [];
  const list = Array.isArray(v) ? v : [v];
  for (const id of list) {
    if (!Number.isInteger(id) || (id as number) < 0) {
      throw new RadixServeError(
        "internal",
        `${where}: eos_token_id must be a token id or a list of them, got ${JSON.stringify(v)}`,
      );
    }
  }
  return list as number[];
}

/** Reads the defaults; a model without generation_config.json gets only its stop ids. */
export async function loadGenerationConfig(
  modelDir: string,
  tokenizer?: ModelTokenizer,
): Promise<GenerationDefaults> {
  const gen = (await readModelJson(modelDir, "generation_config.json", true)) ?? {};
  const config = (await readModelJson(modelDir, "config.json", true)) ?? {};
  const out: GenerationDefaults = { bosTokenId: null, stopTokenIds: [] };
  for (const [key, field] of NUMERIC_FIELDS) {
    const v = gen[key];
    if (v === undefined || v === null) continue;
    if (typeof v !== "number" || !Number.isFinite(v)) {
      throw new RadixServeError(
        "internal",
        `${modelDir}/generation_config.json: ${key} must be a number, got ${JSON.stringify(v)}`,
      );
    }
    out[field] = v;
  }
  if (typeof gen["do_sample"] === "boolean") out.doSample = gen["do_sample"];
  const bos = gen["bos_token_id"] ?? config["bos_token_id"];
  if (Number.isInteger(bos)) out.bosTokenId = bos as number;
  const stops = new Set<number>([
    ...tokenIds(gen["eos_token_id"], `${modelDir}/generation_config.json`),
    ...tokenIds(config["eos_token_id"], `${modelDir}/config.json`),
  ]);
  if (tokenizer?.eosTokenId != null) stops.add(tokenizer.eosTokenId);
  out.stopTokenIds = [...stops].sort((a, b) => a - b);
  return out;
}
