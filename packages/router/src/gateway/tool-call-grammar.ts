/**
 * tool_choice "required" or a named function: the answer is constrained to tool calls in the
 * model family's own format (the tool-call parser's), with each call's arguments valid against its
 * function's JSON schema, so any model returns calls that parse. The grammar is Lark (llguidance),
 * whose `%json {...}` rule embeds a JSON schema.
 */
import type { Constraint } from "@radixserve/core";
import { RadixServeError } from "@radixserve/core";
import type { ChatCompletionBody, ToolBody } from "./schemas.js";
import type { ToolCallParser } from "./tool-call-parser.js";

/** The tools a forced choice may call: all of them ("required") or the named one. */
function forcedTools(body: ChatCompletionBody): ToolBody[] | null {
  const choice = body.tool_choice;
  const tools = body.tools ?? [];
  if (choice === "required") return tools;
  if (choice && typeof choice === "object") {
    const named = tools.filter((t) => t.function.name === choice.function.name);
    if (named.length === 0)
      throw new RadixServeError(
        "invalid_request",
        `tool_choice names the function '${choice.function.name}', which is not in 'tools'.`,
        { param: "tool_choice" },
      );
    return named;
  }
  return null;
}

/** One call as the format writes it: {"name": <const>, <argsKey>: <the function's parameters>}. */
function callSchema(tools: ToolBody[], argsKey: string): unknown {
  return {
    "x-guidance": { whitespace_flexible: false, item_separator: ", ", key_separator: ": " },
    anyOf: tools.map((t) => ({
      type: "object",
      properties: {
        name: { const: t.function.name },
        [argsKey]: t.function.parameters ?? { type: "object" },
      },
      required: ["name", argsKey],
      additionalProperties: false,
    })),
  };
}

/**
 * The constraint forcing tool calls, or null when tool_choice leaves the model free. `parallel`
 * false allows one call.
 */
export function toolCallConstraint(
  body: ChatCompletionBody,
  parser: ToolCallParser | undefined,
  parallel: boolean,
): Constraint | null {
  const tools = forcedTools(body);
  if (tools === null) return null;
  if (tools.length === 0)
    throw new RadixServeError(
      "invalid_request",
      "tool_choice 'required' needs at least one tool in 'tools'.",
      {
        param: "tool_choice",
      },
    );
  if (!parser)
    throw new RadixServeError("invalid_request", "tool_choice needs 'tools' the model can call.", {
      param: "tool_choice",
    });
  const call = (argsKey: string) => `call: %json ${JSON.stringify(callSchema(tools, argsKey))}\n`;
  const more = (sep: string, item: string) => (parallel ? ` (${sep} ${item})*` : "");
  let source: string;
  switch (parser.name) {
    case "hermes":
      source = `start: block${more('"\\n"', "block")}\nblock: "<tool_call>\\n" call "\\n</tool_call>"\n${call("arguments")}`;
      break;
    case "llama3":
      source = `start: call${more('"; "', "call")}\n${call("parameters")}`;
      break;
    case "mistral":
      // The parser reads a bare JSON array of calls the same as one after [TOOL_CALLS].
      source = `start: "[" call${more('", "', "call")} "]"\n${call("arguments")}`;
      break;
    default:
      throw new RadixServeError(
        "invalid_request",
        `tool_choice is not supported with the '${parser.name}' format.`,
        {
          param: "tool_choice",
        },
      );
  }
  return { kind: "lark", source };
}
