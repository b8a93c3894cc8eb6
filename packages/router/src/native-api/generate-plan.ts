/**
 * POST /generate, from body to choices: which prompts (text, input_ids, or the `messages`
 * extension), their token ids, and each item's sampling and logprob options, SGLang's defaults
 * applied (max_new_tokens 128, temperature 1, logprob_start_len -1 = the last prompt token).
 */

import { RadixServeError } from "@radixserve/core";
import { fail } from "../errors.js";
import type { ChoiceSpec } from "../gateway/choice-runner.js";
import {
  checkChars,
  checkChoices,
  checkTokens,
  type RequestLimits,
  wellFormed,
} from "../gateway/request-limits.js";
import type { ChatTurn, TextCodec } from "../gateway/text-codec.js";
import type { GenerateBody, SamplingParamsBody } from "./generate-schema.js";

/** SGLang's default max_new_tokens. */
export const DEFAULT_MAX_NEW_TOKENS = 128;

export interface GenerateItem {
  rid: string;
  spec: ChoiceSpec;
  /** max_new_tokens 0: the worker runs one token (it always samples one); it is not reported. */
  scoreOnly: boolean;
  returnLogprob: boolean;
  topLogprobs: number;
}

export interface GeneratePlan {
  batch: boolean;
  stream: boolean;
  textInLogprobs: boolean;
  items: GenerateItem[];
}

/** The per-item value of a field given once for all or as a list of the batch's length. */
function perItem<T>(
  v: T | T[] | null | undefined,
  n: number,
  batch: boolean,
  name: string,
): (T | undefined)[] {
  if (v === null || v === undefined) return new Array<T | undefined>(n).fill(undefined);
  if (!Array.isArray(v)) return new Array<T | undefined>(n).fill(v);
  if (!batch) throw fail("invalid_request", `'${name}' is a list but the request is not a batch`, name);
  if (v.length !== n)
    throw fail("invalid_request", `'${name}' has ${v.length} entries for a batch of ${n}`, name);
  return v;
}

/** `text`'s ids without the special tokens a prompt starts with (BOS where the model adds one). */
async function continuationIds(codec: TextCodec, text: string): Promise<number[]> {
  const [lead, ids] = await Promise.all([codec.encodePrompt(""), codec.encodePrompt(text)]);
  const leads = lead.every((t, i) => ids[i] === t);
  return leads ? ids.slice(lead.length) : ids;
}

/** The chat template's failure as the client's error (a conversation the template refuses). */
async function encodeChat(codec: TextCodec, turns: ChatTurn[]): Promise<number[]> {
  try {
    return await codec.encodeChat(turns);
  } catch (err) {
    if (err instanceof RadixServeError) throw err;
    const why = err instanceof Error ? err.message : String(err);
    throw new RadixServeError("invalid_request", `Cannot apply the chat template: ${why}`, {
      param: "messages",
      cause: err,
    });
  }
}

/** The request's prompts within the router's limits (--max-prompt-chars, --max-choices-per-request). */
function checkLimits(body: GenerateBody, limits: RequestLimits): void {
  const texts = body.text === null || body.text === undefined ? [] : [body.text].flat();
  const turns = (body.messages ?? []).flat(2) as ChatTurn[];
  const chars =
    texts.reduce((a, t) => a + t.length, 0) + turns.reduce((a, t) => a + String(t.content).length, 0);
  checkChars(chars, limits, body.messages ? "messages" : "text");
  const prompts = Math.max(
    texts.length,
    body.input_ids && Array.isArray(body.input_ids[0]) ? body.input_ids.length : 1,
  );
  checkChoices(body.messages && Array.isArray(body.messages[0]) ? body.messages.length : prompts, 1, limits);
}

async function promptsOf(body: GenerateBody, codec: TextCodec): Promise<{ batch: boolean; ids: number[][] }> {
  const given = [body.text, body.input_ids, body.messages].filter((v) => v !== null && v !== undefined);
  if (body.messages) {
    if (body.input_ids)
      throw fail("invalid_request", "give 'messages' or 'input_ids', not both", "input_ids");
    const batch = Array.isArray(body.messages[0]);
    const convs = (batch ? body.messages : [body.messages]) as ChatTurn[][];
    const tails = perItem(body.text, convs.length, batch, "text");
    const ids = await Promise.all(
      convs.map(async (turns, i) => {
        const head = await encodeChat(
          codec,
          turns.map((t) => ({ ...t, content: wellFormed(String(t.content)) })),
        );
        const tail = tails[i];
        return tail ? [...head, ...(await continuationIds(codec, wellFormed(tail)))] : head;
      }),
    );
    return { batch, ids };
  }
  if (given.length !== 1) throw fail("invalid_request", "give exactly one of 'text' and 'input_ids'", "text");
  if (body.input_ids) {
    const batch = Array.isArray(body.input_ids[0]);
    return { batch, ids: (batch ? body.input_ids : [body.input_ids]) as number[][] };
  }
  const texts = body.text!;
  const batch = Array.isArray(texts);
  return {
    batch,
    ids: await Promise.all((batch ? texts : [texts]).map((t) => codec.encodePrompt(wellFormed(t)))),
  };
}

function refuseConstraints(p: SamplingParamsBody | undefined): void {
  for (const key of ["regex", "json_schema", "ebnf"] as const)
    if (p?.[key] !== undefined && p[key] !== null)
      throw fail(
        "invalid_request",
        `sampling_params.${key} is not supported by this server yet: structured output needs the engine's constrained sampling`,
        `sampling_params.${key}`,
      );
}

export async function planGenerate(
  body: GenerateBody,
  codec: TextCodec,
  modelId: string,
  newRid: () => string,
  deadlineUnixMs: number,
  limits: RequestLimits,
): Promise<GeneratePlan> {
  checkLimits(body, limits);
  const { batch, ids } = await promptsOf(body, codec);
  const n = ids.length;
  checkTokens(
    ids.reduce((a, p) => a + p.length, 0),
    limits,
    body.messages ? "messages" : body.input_ids ? "input_ids" : "text",
  );
  const sampling = perItem(body.sampling_params, n, batch, "sampling_params");
  const rids = perItem(body.rid, n, batch, "rid");
  const wantLp = perItem(body.return_logprob, n, batch, "return_logprob");
  const starts = perItem(body.logprob_start_len, n, batch, "logprob_start_len");
  const tops = perItem(body.top_logprobs_num, n, batch, "top_logprobs_num");
  const items = ids.map((inputIds, i): GenerateItem => {
    const p = sampling[i];
    refuseConstraints(p);
    for (const t of inputIds)
      if (t >= codec.vocabSize)
        throw fail(
          "invalid_request",
          `input_ids holds ${t}, not a token id of this model (vocabulary ${codec.vocabSize})`,
          "input_ids",
        );
    const maxNew = p?.max_new_tokens ?? DEFAULT_MAX_NEW_TOKENS;
    const returnLogprob = wantLp[i] ?? false;
    const top = tops[i] ?? 0;
    const startArg = starts[i] ?? -1;
    const start = startArg === -1 ? inputIds.length - 1 : startArg;
    if (start > inputIds.length)
      throw fail(
        "invalid_request",
        `logprob_start_len ${start} is past the prompt's ${inputIds.length} tokens`,
        "logprob_start_len",
      );
    const topK = p?.top_k ?? 0;
    const spec: ChoiceSpec = {
      modelId,
      inputIds,
      maxNewTokens: Math.max(1, maxNew),
      sampling: {
        temperature: p?.temperature ?? 1,
        topP: p?.top_p ?? 1,
        topK: Math.max(topK, 0),
        minP: p?.min_p ?? 0,
        frequencyPenalty: p?.frequency_penalty ?? 0,
        presencePenalty: p?.presence_penalty ?? 0,
        repetitionPenalty: p?.repetition_penalty ?? 1,
        ...(p?.sampling_seed !== undefined && p?.sampling_seed !== null
          ? { seed: String(p.sampling_seed) }
          : {}),
      },
      stops: p?.stop === undefined || p?.stop === null ? [] : typeof p.stop === "string" ? [p.stop] : p.stop,
      stopTokenIds: p?.stop_token_ids ?? [],
      ignoreEos: p?.ignore_eos ?? false,
      logprobs: returnLogprob ? top : null,
      ...(returnLogprob ? { promptLogprobs: { start, top } } : {}),
      ...(deadlineUnixMs > 0 ? { deadlineUnixMs } : {}),
    };
    return { rid: rids[i] ?? newRid(), spec, scoreOnly: maxNew === 0, returnLogprob, topLogprobs: top };
  });
  return {
    batch,
    stream: body.stream ?? false,
    textInLogprobs: body.return_text_in_logprobs ?? false,
    items,
  };
}
