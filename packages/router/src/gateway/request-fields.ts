/**
 * Every top-level field of the OpenAI request bodies (and the SGLang extras) this gateway knows,
 * with what it does here. Nothing is silently ignored: a field either works, is accepted because it
 * legitimately has no effect on a self-hosted server (documented in the router README), or is
 * refused with a 400 that names it. A field this table does not know gets the 400 OpenAI answers
 * ("Unrecognized request argument supplied: <name>").
 *
 * The check runs before schema validation, so the error names the field even when its value would
 * also fail the schema.
 */
import { RadixServeError } from "@radixserve/core";

export type Endpoint = "chat" | "completion";

/** What a field does on this server. */
export type FieldRule =
  /** Validated by the endpoint's schema and acted on. */
  | { kind: "used" }
  /** Accepted; has no effect here for the reason given. */
  | { kind: "no_effect"; why: string }
  /** Refused with a 400 unless the value means "off" (`inert` says which values those are). */
  | { kind: "refused"; why: string; inert: (v: unknown) => boolean };

const used: FieldRule = { kind: "used" };
const noEffect = (why: string): FieldRule => ({ kind: "no_effect", why });
const refused = (why: string, inert: (v: unknown) => boolean = isAbsent): FieldRule => ({
  kind: "refused",
  why,
  inert,
});

function isAbsent(v: unknown): boolean {
  return v === null || v === undefined;
}

function isEmpty(v: unknown): boolean {
  if (isAbsent(v)) return true;
  if (Array.isArray(v)) return v.length === 0;
  if (typeof v === "object") return Object.keys(v as object).length === 0;
  return v === "" || v === false;
}

const NOT_YET_STRUCTURED =
  "constrained decoding (structured output) is not available on this server yet; ask for free text";
const NOT_YET_TOOLS = "the legacy function-calling fields are not supported; use 'tools' and 'tool_choice'";
const NOT_YET_FORCED_TOOLS =
  "'required' and a named function need constrained decoding, which this server does not have yet; use 'auto'";

/** Fields both endpoints share. */
const COMMON: Record<string, FieldRule> = {
  model: used,
  max_tokens: used,
  temperature: used,
  top_p: used,
  top_k: used,
  min_p: used,
  frequency_penalty: used,
  presence_penalty: used,
  repetition_penalty: used,
  seed: used,
  stop: used,
  stop_token_ids: used,
  n: used,
  stream: used,
  stream_options: used,
  ignore_eos: used,
  logprobs: used,
  user: noEffect("an end-user id for abuse monitoring on OpenAI's platform; nothing is logged per user here"),
  logit_bias: used,
  regex: refused(NOT_YET_STRUCTURED),
  ebnf: refused(NOT_YET_STRUCTURED),
  json_schema: refused(NOT_YET_STRUCTURED),
};

const CHAT: Record<string, FieldRule> = {
  ...COMMON,
  messages: used,
  max_completion_tokens: used,
  top_logprobs: used,
  metadata: noEffect("tags for OpenAI's stored completions; nothing is stored here"),
  service_tier: noEffect("OpenAI's processing tiers; every request here is served the same way"),
  prompt_cache_key: noEffect("prefix caching here is automatic (radix cache) and needs no key"),
  safety_identifier: noEffect("an end-user id for OpenAI's abuse monitoring"),
  parallel_tool_calls: used,
  store: refused("this server does not store completions", (v) => isAbsent(v) || v === false),
  response_format: refused(
    NOT_YET_STRUCTURED,
    (v) => isAbsent(v) || (typeof v === "object" && (v as { type?: unknown }).type === "text"),
  ),
  tools: used,
  tool_choice: refused(NOT_YET_FORCED_TOOLS, (v) => isAbsent(v) || v === "none" || v === "auto"),
  functions: refused(NOT_YET_TOOLS, isEmpty),
  function_call: refused(NOT_YET_TOOLS, (v) => isAbsent(v) || v === "none"),
  modalities: refused(
    "the models served here produce text only",
    (v) => isAbsent(v) || (Array.isArray(v) && v.every((m) => m === "text")),
  ),
  audio: refused("the models served here produce text only"),
  prediction: refused("predicted outputs (speculative decoding from a given text) are not supported"),
  reasoning_effort: refused("the models served here are not reasoning models"),
  verbosity: refused("the models served here take no verbosity setting"),
  web_search_options: refused("this server has no web search"),
};

const COMPLETION: Record<string, FieldRule> = {
  ...COMMON,
  prompt: used,
  echo: refused("echoing the prompt is not supported", (v) => isAbsent(v) || v === false),
  suffix: refused(
    "insertion (a suffix after the completion) is not supported",
    (v) => isAbsent(v) || v === "",
  ),
  best_of: refused(
    "best_of > n (sampling more choices and returning the most likely) is not supported",
    (v) => isAbsent(v) || v === 1,
  ),
};

const TABLES: Record<Endpoint, Record<string, FieldRule>> = { chat: CHAT, completion: COMPLETION };

/** The field table of an endpoint (for docs and the test that walks it). */
export function requestFields(endpoint: Endpoint): Readonly<Record<string, FieldRule>> {
  return TABLES[endpoint];
}

/**
 * Throws invalid_request naming the first field that is unknown or refused with a value that
 * would change the output. `best_of` equal to `n` is the same request as `n` alone.
 */
export function checkRequestFields(endpoint: Endpoint, body: Record<string, unknown>): void {
  const table = TABLES[endpoint];
  for (const [name, value] of Object.entries(body)) {
    const rule = Object.hasOwn(table, name) ? table[name] : undefined;
    if (rule === undefined)
      throw new RadixServeError("invalid_request", `Unrecognized request argument supplied: ${name}`, {
        param: name,
      });
    if (rule.kind !== "refused" || rule.inert(value)) continue;
    if (name === "best_of" && value === (body["n"] ?? 1)) continue;
    throw new RadixServeError("invalid_request", `'${name}' is not supported: ${rule.why}.`, { param: name });
  }
}
