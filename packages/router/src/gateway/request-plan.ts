/**
 * Turns a validated OpenAI request body into a plan: the served model, the tokenized prompt(s),
 * and one ChoiceSpec per choice (prompt p, sample i → choice index p*n + i). The request's size
 * (./request-limits.ts: fan-out and characters) is checked before tokenizing, its token count and
 * the limits that need the model (context length, vocabulary, logprobs flags) after.
 */
import { randomBytes } from "node:crypto";
import type { GetModelInfoResponse__Output } from "@radixserve/core";
import { RadixServeError } from "@radixserve/core";
import type { ChoiceSpec } from "./choice-runner.js";
import {
  checkChars,
  checkChoices,
  checkTokens,
  DEFAULT_LIMITS,
  type RequestLimits,
  wellFormed,
} from "./request-limits.js";
import type { ChatCompletionBody, CompletionBody } from "./schemas.js";
import type { ChatTurn, TextCodec } from "./text-codec.js";
import { parserForTemplate, TOOL_CALL_PARSER_NAMES, type ToolCallParser } from "./tool-call-parser.js";

export interface PlannedChoice {
  index: number;
  promptIndex: number;
  spec: ChoiceSpec;
}

export interface RequestPlan {
  kind: "chat" | "completion";
  id: string;
  created: number;
  model: string;
  prompts: number[][];
  choices: PlannedChoice[];
  stream: boolean;
  includeUsage: boolean;
  /** Whether the response carries logprobs objects (even empty ones). */
  logprobs: boolean;
  /** Chat with tools the model may call: answers are read for calls by `parser`. */
  tools: { parser: ToolCallParser; parallel: boolean } | null;
}

/** OpenAI's default max_tokens for /v1/completions. */
const COMPLETIONS_DEFAULT_MAX_TOKENS = 16;

function findModel(
  models: readonly GetModelInfoResponse__Output[],
  name: string,
): GetModelInfoResponse__Output {
  const found = models.find((m) => m.modelId === name);
  if (found) return found;
  const served = models.map((m) => m.modelId).join(", ") || "none (no worker has answered yet)";
  throw new RadixServeError(
    "model_not_found",
    `The model '${name}' does not exist. Served models: ${served}.`,
    {
      param: "model",
    },
  );
}

function checkIds(ids: readonly number[], vocabSize: number, param: string): void {
  for (const id of ids) {
    if (id >= vocabSize)
      throw new RadixServeError(
        "invalid_request",
        `Token id ${id} is out of range: the vocabulary has ${vocabSize} tokens.`,
        { param },
      );
  }
}

/** The OpenAI 64-bit seed as the proto's uint64 decimal string (negative seeds wrap, as in C). */
function seedFor(seed: number | null | undefined, i: number): string | undefined {
  if (seed === null || seed === undefined) return undefined;
  return BigInt.asUintN(64, BigInt(seed) + BigInt(i)).toString();
}

function maxNewTokens(
  promptLen: number,
  requested: number | null | undefined,
  fallback: number,
  ctx: number,
  param: string,
): number {
  if (promptLen >= ctx) {
    throw new RadixServeError(
      "prompt_too_long",
      `This model's maximum context length is ${ctx} tokens. However, your prompt has ${promptLen} tokens. ` +
        "Please reduce the length of the prompt.",
      { param },
    );
  }
  const room = ctx - promptLen;
  if (requested === null || requested === undefined) return Math.min(fallback, room);
  if (promptLen + requested > ctx) {
    throw new RadixServeError(
      "prompt_too_long",
      `This model's maximum context length is ${ctx} tokens. However, you requested ${promptLen + requested} ` +
        `tokens (${promptLen} in the prompt, ${requested} in the completion). ` +
        "Please reduce the length of the prompt or the completion.",
      { param },
    );
  }
  return requested;
}

type CommonBody = ChatCompletionBody | CompletionBody;

function baseSampling(body: CommonBody): ChoiceSpec["sampling"] {
  const bias = body.logit_bias ?? {};
  return {
    logitBias: Object.fromEntries(Object.entries(bias).map(([id, v]) => [Number(id), v])),
    // OpenAI's default temperature is 1.0; 0 is greedy.
    temperature: body.temperature ?? 1,
    topK: body.top_k !== null && body.top_k !== undefined && body.top_k > 0 ? body.top_k : 0,
    topP: body.top_p ?? 1,
    minP: body.min_p ?? 0,
    repetitionPenalty: body.repetition_penalty ?? 1,
    frequencyPenalty: body.frequency_penalty ?? 0,
    presencePenalty: body.presence_penalty ?? 0,
  };
}

function stops(body: CommonBody): string[] {
  if (body.stop === null || body.stop === undefined) return [];
  const list = typeof body.stop === "string" ? [body.stop] : body.stop;
  return list.filter((s) => s.length > 0).map(wellFormed);
}

/** Gateway-wide settings a plan needs. */
export interface PlanOptions {
  /** Longest a request may run, in ms; 0 = no deadline. */
  requestTimeoutMs: number;
  /** Size limits of one request. Default DEFAULT_LIMITS. */
  limits?: RequestLimits;
  /** `--tool-call-parser`: the tool-call format; absent = read off the chat template. */
  toolCallParser?: ToolCallParser | undefined;
}

/** The tools of a chat request, when the model may call them, and the parser of its calls. */
function toolsOf(body: ChatCompletionBody, codec: TextCodec, opts: PlanOptions): RequestPlan["tools"] {
  if (!body.tools?.length || body.tool_choice === "none") return null;
  const template = codec.chatTemplate ?? "";
  if (!/\btools\b/.test(template))
    throw new RadixServeError(
      "invalid_request",
      "This model's chat template does not render tools, so the model would never see them; " +
        "send the tool descriptions in a message instead.",
      { param: "tools" },
    );
  const parser = opts.toolCallParser ?? parserForTemplate(template);
  if (!parser)
    throw new RadixServeError(
      "invalid_request",
      "No tool-call format is known for this model's chat template; start the router with " +
        `--tool-call-parser (${TOOL_CALL_PARSER_NAMES.join(", ")}).`,
      { param: "tools" },
    );
  return { parser, parallel: body.parallel_tool_calls ?? true };
}

const DEFAULT_PLAN: PlanOptions = { requestTimeoutMs: 0 };

function buildChoices(
  body: CommonBody,
  model: GetModelInfoResponse__Output,
  prompts: number[][],
  maxTokens: number[],
  logprobs: number | null,
  opts: PlanOptions,
): PlannedChoice[] {
  const deadlineUnixMs = opts.requestTimeoutMs > 0 ? Date.now() + opts.requestTimeoutMs : 0;
  const n = body.n ?? 1;
  const stopTokenIds = body.stop_token_ids ?? [];
  const out: PlannedChoice[] = [];
  prompts.forEach((ids, p) => {
    for (let i = 0; i < n; i++) {
      const seed = seedFor(body.seed, i);
      out.push({
        index: p * n + i,
        promptIndex: p,
        spec: {
          modelId: model.modelId,
          inputIds: ids,
          maxNewTokens: maxTokens[p]!,
          sampling: seed === undefined ? baseSampling(body) : { ...baseSampling(body), seed },
          stops: stops(body),
          stopTokenIds,
          ignoreEos: body.ignore_eos ?? false,
          logprobs,
          deadlineUnixMs,
          // A non-streaming answer is sent whole at the end: its choices may restart elsewhere.
          restartable: body.stream !== true,
        },
      });
    }
  });
  return out;
}

function header(kind: RequestPlan["kind"], model: string) {
  const prefix = kind === "chat" ? "chatcmpl-" : "cmpl-";
  return {
    kind,
    id: prefix + randomBytes(12).toString("hex"),
    created: Math.floor(Date.now() / 1000),
    model,
  };
}

/** The message's content with lone surrogates repaired, and its length in characters. */
function turnOf(m: ChatCompletionBody["messages"][number]): { turn: ChatTurn; chars: number } {
  const extra: Pick<ChatTurn, "toolCalls" | "toolCallId"> =
    m.role === "tool"
      ? { toolCallId: m.tool_call_id }
      : m.role === "assistant" && m.tool_calls?.length
        ? { toolCalls: m.tool_calls }
        : {};
  const c = m.content ?? null;
  if (c === null) return { turn: { role: m.role, content: null, ...extra }, chars: 0 };
  if (typeof c === "string") {
    const content = wellFormed(c);
    return { turn: { role: m.role, content, ...extra }, chars: content.length };
  }
  const parts = c.map((p) => ({ ...p, text: wellFormed(p.text) }));
  return {
    turn: { role: m.role, content: parts, ...extra },
    chars: parts.reduce((a, p) => a + p.text.length, 0),
  };
}

export async function planChat(
  body: ChatCompletionBody,
  models: readonly GetModelInfoResponse__Output[],
  codec: TextCodec,
  opts: PlanOptions = DEFAULT_PLAN,
): Promise<RequestPlan> {
  const limits = opts.limits ?? DEFAULT_LIMITS;
  const model = findModel(models, body.model);
  if (body.top_logprobs !== null && body.top_logprobs !== undefined && body.logprobs !== true) {
    throw new RadixServeError("invalid_request", "'top_logprobs' requires 'logprobs' to be true.", {
      param: "top_logprobs",
    });
  }
  checkChoices(1, body.n ?? 1, limits);
  const converted = body.messages.map(turnOf);
  checkChars(
    converted.reduce((a, t) => a + t.chars, 0),
    limits,
    "messages",
  );
  const turns = converted.map((t) => t.turn);
  const tools = toolsOf(body, codec, opts);
  let ids: number[];
  try {
    ids = await codec.encodeChat(turns, tools ? (body.tools ?? undefined) : undefined);
  } catch (err) {
    if (err instanceof RadixServeError) throw err;
    const why = err instanceof Error ? err.message : String(err);
    throw new RadixServeError("invalid_request", `Cannot apply the chat template: ${why}`, {
      param: "messages",
      cause: err,
    });
  }
  checkTokens(ids.length, limits, "messages");
  checkIds(body.stop_token_ids ?? [], codec.vocabSize, "stop_token_ids");
  checkIds(Object.keys(body.logit_bias ?? {}).map(Number), codec.vocabSize, "logit_bias");
  const requested = body.max_completion_tokens ?? body.max_tokens;
  const param = body.max_completion_tokens != null ? "max_completion_tokens" : "messages";
  const max = maxNewTokens(ids.length, requested, Number.MAX_SAFE_INTEGER, model.maxContextLength, param);
  const logprobs = body.logprobs === true ? (body.top_logprobs ?? 0) : null;
  return {
    ...header("chat", model.modelId),
    prompts: [ids],
    choices: buildChoices(body, model, [ids], [max], logprobs, opts),
    stream: body.stream ?? false,
    includeUsage: body.stream_options?.include_usage ?? false,
    logprobs: logprobs !== null,
    tools,
  };
}

export async function planCompletion(
  body: CompletionBody,
  models: readonly GetModelInfoResponse__Output[],
  codec: TextCodec,
  opts: PlanOptions = DEFAULT_PLAN,
): Promise<RequestPlan> {
  const limits = opts.limits ?? DEFAULT_LIMITS;
  const model = findModel(models, body.model);
  const p = body.prompt;
  const list: readonly unknown[] = typeof p === "string" ? [p] : p;
  const texts = list.every((x) => typeof x === "string") ? (list as string[]) : null;
  const idLists = texts
    ? null
    : list.every((x) => typeof x === "number")
      ? [list as number[]]
      : (list as number[][]);
  checkChoices(texts?.length ?? idLists?.length ?? 1, body.n ?? 1, limits);
  let prompts: number[][];
  if (texts) {
    const repaired = texts.map(wellFormed);
    checkChars(
      repaired.reduce((a, t) => a + t.length, 0),
      limits,
      "prompt",
    );
    prompts = await Promise.all(repaired.map((t) => codec.encodePrompt(t)));
  } else prompts = idLists!;
  checkTokens(
    prompts.reduce((a, ids) => a + ids.length, 0),
    limits,
    "prompt",
  );
  prompts.forEach((ids, i) => {
    if (ids.length === 0)
      throw new RadixServeError("invalid_request", "The prompt is empty after tokenization.", {
        param: "prompt",
      });
    checkIds(ids, codec.vocabSize, prompts.length > 1 ? `prompt[${i}]` : "prompt");
  });
  checkIds(body.stop_token_ids ?? [], codec.vocabSize, "stop_token_ids");
  checkIds(Object.keys(body.logit_bias ?? {}).map(Number), codec.vocabSize, "logit_bias");
  const maxTokens = prompts.map((ids) =>
    maxNewTokens(
      ids.length,
      body.max_tokens,
      COMPLETIONS_DEFAULT_MAX_TOKENS,
      model.maxContextLength,
      "prompt",
    ),
  );
  const logprobs = body.logprobs ?? null;
  return {
    ...header("completion", model.modelId),
    prompts,
    choices: buildChoices(body, model, prompts, maxTokens, logprobs, opts),
    stream: body.stream ?? false,
    includeUsage: body.stream_options?.include_usage ?? false,
    logprobs: logprobs !== null,
    tools: null,
  };
}
