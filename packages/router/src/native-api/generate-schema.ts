/**
 * The request of SGLang's native `POST /generate` (zod 4), with SGLang's field names. Every object
 * is strict: a field this server does not implement is refused by name, never ignored.
 *
 * One RadixServe extension: `messages` (chat turns rendered by the server with the model's chat
 * template and its generation prompt), optionally followed by `text` (an assistant reply in
 * progress). The client package builds its programs on it.
 */
import { z } from "zod";
import { samplingRanges } from "../gateway/schemas.js";

const tokenId = z.int().nonnegative();
const oneOrMany = <T extends z.ZodType>(t: T) => z.union([t, z.array(t).min(1)]);

/** sampling_params: SGLang's names and defaults (max_new_tokens 128, temperature 1). */
export const samplingParamsSchema = z.strictObject({
  max_new_tokens: z.int().nonnegative().nullish(),
  ...samplingRanges,
  /** SGLang's seed name. */
  sampling_seed: z.int().nonnegative().nullish(),
  /** Only the default (true): special tokens are never rendered as text. */
  skip_special_tokens: z.literal(true).nullish(),
  /** Only 1: a batch is the way to get several samples. */
  n: z.literal(1).nullish(),
  /** Structured output: refused until the engine constrains sampling (see generate.ts). */
  regex: z.string().nullish(),
  json_schema: z.string().nullish(),
  ebnf: z.string().nullish(),
});

export type SamplingParamsBody = z.infer<typeof samplingParamsSchema>;

const turn = z.strictObject({
  role: z.enum(["system", "user", "assistant"]),
  content: z.string(),
});

export const generateSchema = z.strictObject({
  text: oneOrMany(z.string()).nullish(),
  input_ids: z.union([z.array(tokenId).min(1), z.array(z.array(tokenId).min(1)).min(1)]).nullish(),
  /** RadixServe extension: a conversation the server renders with the chat template; one or a batch. */
  messages: z.union([z.array(turn).min(1), z.array(z.array(turn).min(1)).min(1)]).nullish(),
  /** Checked by parseGenerateBody, so that an error names the field inside it. */
  sampling_params: z.unknown().optional(),
  rid: oneOrMany(z.string().min(1).max(128)).nullish(),
  stream: z.boolean().nullish(),
  return_logprob: oneOrMany(z.boolean()).nullish(),
  /** First prompt position whose logprob is returned; -1 (SGLang's default) = the last prompt token. */
  logprob_start_len: oneOrMany(z.int().min(-1)).nullish(),
  top_logprobs_num: oneOrMany(z.int().min(0).max(20)).nullish(),
  return_text_in_logprobs: z.boolean().nullish(),
});

export type GenerateBody = Omit<z.infer<typeof generateSchema>, "sampling_params"> & {
  sampling_params?: SamplingParamsBody | SamplingParamsBody[] | null;
};

function atPath<T>(schema: z.ZodType<T>, value: unknown, path: (string | number)[]): T {
  const r = schema.safeParse(value);
  if (r.success) return r.data;
  throw new z.ZodError(r.error.issues.map((i) => ({ ...i, path: [...path, ...i.path] })));
}

/** The body of POST /generate, checked; a ZodError names the field at fault. */
export function parseGenerateBody(raw: unknown): GenerateBody {
  const body = generateSchema.parse(raw ?? {});
  const sp = body.sampling_params;
  if (sp === undefined || sp === null) return { ...body, sampling_params: null };
  if (!Array.isArray(sp))
    return { ...body, sampling_params: atPath(samplingParamsSchema, sp, ["sampling_params"]) };
  if (sp.length === 0)
    throw new z.ZodError([
      { code: "custom", message: "an empty list", path: ["sampling_params"], input: sp },
    ]);
  return {
    ...body,
    sampling_params: sp.map((p, i) => atPath(samplingParamsSchema, p, ["sampling_params", i])),
  };
}
