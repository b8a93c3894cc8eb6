/**
 * Request schemas of the OpenAI endpoints (zod 4). They check types and ranges only; limits that
 * depend on the model (context length, vocabulary) are checked after tokenization.
 * Which top-level fields exist at all, and which are refused, is ./request-fields.ts's job (it
 * runs first); message objects are strict here (an unknown key in a message is a 400 naming it).
 */
import { z } from "zod";

const nonNegInt = z.int().nonnegative();
const tokenId = nonNegInt;

/** Sampling ranges shared with the native API's sampling_params (same names there). */
export const samplingRanges = {
  temperature: z.number().min(0).max(2).nullish(),
  top_p: z.number().gt(0).max(1).nullish(),
  /** -1 or 0 disables top-k (vLLM/SGLang accept -1). */
  top_k: z.int().min(-1).nullish(),
  min_p: z.number().min(0).max(1).nullish(),
  frequency_penalty: z.number().min(-2).max(2).nullish(),
  presence_penalty: z.number().min(-2).max(2).nullish(),
  repetition_penalty: z.number().gt(0).max(10).nullish(),
  stop: z.union([z.string(), z.array(z.string()).max(16)]).nullish(),
  stop_token_ids: z.array(tokenId).max(64).nullish(),
  ignore_eos: z.boolean().nullish(),
};

/** Sampling and output fields shared by /v1/chat/completions and /v1/completions. */
const samplingFields = {
  model: z.string().min(1),
  max_tokens: z.int().positive().nullish(),
  ...samplingRanges,
  seed: z.int().nullish(),
  n: z.int().min(1).max(16).nullish(),
  /** Accepted only when it equals n (request-fields.ts refuses larger values). */
  best_of: z.int().min(1).max(16).nullish(),
  stream: z.boolean().nullish(),
  stream_options: z.object({ include_usage: z.boolean().nullish() }).nullish(),
  user: z.string().nullish(),
  /** Token id (as a JSON object key) -> bias in [-100, 100] added to its logit. */
  logit_bias: z
    .record(z.string().regex(/^\d+$/, "keys must be token ids"), z.number().min(-100).max(100))
    .nullish(),
};

const textPart = z.object({ type: z.literal("text"), text: z.string() });

const messageContent = z.union([z.string(), z.array(textPart).min(1)]);

/** A tool call the assistant made earlier in the conversation (`arguments` is a JSON string). */
const toolCall = z.strictObject({
  id: z.string().min(1),
  type: z.literal("function"),
  function: z.strictObject({ name: z.string().min(1), arguments: z.string() }),
});

const chatMessage = z.discriminatedUnion("role", [
  z.strictObject({ role: z.literal("system"), content: messageContent, name: z.string().nullish() }),
  z.strictObject({ role: z.literal("developer"), content: messageContent, name: z.string().nullish() }),
  z.strictObject({ role: z.literal("user"), content: messageContent, name: z.string().nullish() }),
  z
    .strictObject({
      role: z.literal("assistant"),
      content: messageContent.nullish(),
      name: z.string().nullish(),
      refusal: z.string().nullish(),
      tool_calls: z.array(toolCall).nullish(),
    })
    .refine((m) => (m.content ?? null) !== null || (m.tool_calls?.length ?? 0) > 0, {
      message: "an assistant message needs 'content' or 'tool_calls'",
      path: ["content"],
    }),
  z.strictObject({ role: z.literal("tool"), content: messageContent, tool_call_id: z.string().min(1) }),
]);

/** A function the model may call (OpenAI's `tools[i]`); `parameters` is a JSON Schema object. */
const tool = z.strictObject({
  type: z.literal("function"),
  function: z.strictObject({
    name: z.string().regex(/^[a-zA-Z0-9_-]{1,64}$/, "must be 1-64 letters, digits, '_' or '-'"),
    description: z.string().nullish(),
    parameters: z.record(z.string(), z.unknown()).nullish(),
    strict: z.boolean().nullish(),
  }),
});

const toolChoice = z.union([
  z.enum(["none", "auto", "required"]),
  z.strictObject({ type: z.literal("function"), function: z.strictObject({ name: z.string() }) }),
]);

export const chatCompletionSchema = z.object({
  ...samplingFields,
  messages: z.array(chatMessage).min(1),
  max_completion_tokens: z.int().positive().nullish(),
  logprobs: z.boolean().nullish(),
  top_logprobs: z.int().min(0).max(20).nullish(),
  tools: z.array(tool).max(128).nullish(),
  tool_choice: toolChoice.nullish(),
  parallel_tool_calls: z.boolean().nullish(),
});

export const completionSchema = z.object({
  ...samplingFields,
  /** A string, a list of strings, a list of token ids, or a list of token id lists. */
  prompt: z.union([
    z.string(),
    z.array(z.string()).min(1),
    z.array(tokenId).min(1),
    z.array(z.array(tokenId).min(1)).min(1),
  ]),
  /** Number of top logprobs per token (OpenAI allows up to 5; we allow the engine's 20). */
  logprobs: z.int().min(0).max(20).nullish(),
  echo: z.literal(false).nullish(),
  suffix: z.literal("").nullish(),
});

export type ChatCompletionBody = z.infer<typeof chatCompletionSchema>;
export type CompletionBody = z.infer<typeof completionSchema>;
export type ChatMessageBody = z.infer<typeof chatMessage>;
export type ToolBody = z.infer<typeof tool>;
