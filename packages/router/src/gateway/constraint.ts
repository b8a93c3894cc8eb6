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
  return JSON.stringify({ ...(exactDates(base) as object), "x-guidance": options });
}

/**
 * A calendar date YYYY-MM-DD that exists: days per month, and Feb 29 only in leap years (divisible
 * by 4, not by 100 unless by 400). The grammar engine's own `format: "date"` accepts Feb 29 of any
 * year, which a validator then rejects; this pattern is what `format: "date"` becomes.
 */
const DATE_PATTERN =
  "^(?:[0-9]{4}-(?:(?:0[1-9]|1[0-2])-(?:0[1-9]|1[0-9]|2[0-8])|(?:0[13-9]|1[0-2])-(?:29|30)|(?:0[13578]|1[02])-31)" +
  "|(?:[0-9]{2}(?:0[48]|[2468][048]|[13579][26])|(?:[02468][048]|[13579][26])00)-02-29)$";

/** Keywords whose values are data, not subschemas: never rewritten. */
const DATA_KEYWORDS = new Set(["enum", "const", "default", "examples"]);

/** The schema with every `format: "date"` (without its own pattern) turned into {@link DATE_PATTERN}. */
function exactDates(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(exactDates);
  if (node === null || typeof node !== "object") return node;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(node)) out[k] = DATA_KEYWORDS.has(k) ? v : exactDates(v);
  if (out["format"] === "date" && out["pattern"] === undefined) {
    delete out["format"];
    out["pattern"] = DATE_PATTERN;
  }
  return out;
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
