/**
 * Structured output: the request's grammar as the worker's Constraint (SamplingParams.constraint).
 * - `response_format` {type: "json_object"}: any JSON object; {type: "json_schema", json_schema:
 *   {schema}}: JSON valid against the schema (always enforced, `strict` or not: a constrained
 *   answer that does not validate would be a wrong answer that looks right);
 * - SGLang's extras: `regex` (the whole output matches), `ebnf` (a Lark-syntax grammar, as
 *   llguidance reads it), `json_schema` (the schema as JSON text).
 * At most one of them per request. The worker compiles the grammar; an invalid one, or a schema
 * keyword the grammar engine does not support, comes back as a 400 naming it.
 */
import type { Constraint } from "@radixserve/core";
import { RadixServeError } from "@radixserve/core";
import type { ChatCompletionBody, CompletionBody } from "./schemas.js";

type Body = ChatCompletionBody | CompletionBody;

/**
 * A JSON schema as the worker's grammar: JSON written compactly (", " and ": " between items,
 * no other whitespace). The JSON grammar allows any whitespace between tokens, and a sampled model
 * can spend its whole max_tokens on it.
 */
export function jsonGrammar(schema: unknown): string {
  const options = { whitespace_flexible: false, item_separator: ", ", key_separator: ": " };
  const base = schema !== null && typeof schema === "object" && !Array.isArray(schema) ? schema : {};
  return JSON.stringify({ ...base, "x-guidance": options });
}

/** The request's constraint, or null for free text. */
export function constraintOf(body: Body): Constraint | null {
  const found: { param: string; c: Constraint }[] = [];
  const rf = body.response_format;
  if (rf?.type === "json_object")
    found.push({
      param: "response_format",
      c: { kind: "json_schema", source: jsonGrammar({ type: "object" }) },
    });
  if (rf?.type === "json_schema")
    found.push({
      param: "response_format",
      c: { kind: "json_schema", source: jsonGrammar(rf.json_schema.schema ?? {}) },
    });
  if (body.regex) found.push({ param: "regex", c: { kind: "regex", source: body.regex } });
  if (body.ebnf) {
    if (body.ebnf.includes("::="))
      throw new RadixServeError(
        "invalid_request",
        "ebnf is read in Lark syntax ('start: item+', 'item: \"a\" | /[0-9]+/'); GBNF rules ('root ::= ...') are not supported.",
        { param: "ebnf" },
      );
    found.push({ param: "ebnf", c: { kind: "lark", source: body.ebnf } });
  }
  if (body.json_schema) {
    let schema: unknown;
    try {
      schema = JSON.parse(body.json_schema);
    } catch (e) {
      throw new RadixServeError("invalid_request", `json_schema is not JSON: ${(e as Error).message}`, {
        param: "json_schema",
      });
    }
    found.push({ param: "json_schema", c: { kind: "json_schema", source: jsonGrammar(schema) } });
  }
  if (found.length > 1)
    throw new RadixServeError(
      "invalid_request",
      `Only one output constraint per request: got ${found.map((f) => f.param).join(" and ")}.`,
      { param: found[1]!.param },
    );
  return found[0]?.c ?? null;
}
