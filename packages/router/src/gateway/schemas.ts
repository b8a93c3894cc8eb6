/**
 * Request schemas of the OpenAI endpoints (zod 4). They check types and ranges only; limits that
 * depend on the model (context length, vocabulary) are checked after tokenization.
 * Unknown fields are ignored, as OpenAI's own server does with fields it does not use.
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
  stream: z.boolean().nullish(),
  stream_options: z.object({ include_usage: z.boolean().nullish() }).nullish(),
  user: z.string().nullish(),
};

const textPart = z.object({ type: z.literal("text"), text: z.string() });

const messageContent = z.union([z.string(), z.array(textPart).min(1)]);

const chatMessage = z.discriminatedUnion("role", [
  z.object({ role: z.literal("system"), content: messageContent, name: z.string().nullish() }),
  z.object({ role: z.literal("developer"), content: messageContent, name: z.string().nullish() }),
  z.object({ role: z.literal("user"), content: messageContent, name: z.string().nullish() }),
  z.object({ role: z.literal("assistant"), content: messageContent.nullish(), name: z.string().nullish() }),
]);

export const chatCompletionSchema = z.object({
  ...samplingFields,
  messages: z.array(chatMessage).min(1),
  max_completion_tokens: z.int().positive().nullish(),
  logprobs: z.boolean().nullish(),
  top_logprobs: z.int().min(0).max(20).nullish(),
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
});

export type ChatCompletionBody = z.infer<typeof chatCompletionSchema>;
export type CompletionBody = z.infer<typeof completionSchema>;
export type ChatMessageBody = z.infer<typeof chatMessage>;
