/**
 * Tool-call parsers: turn the text a model wrote into OpenAI `tool_calls`, for the model families'
 * own formats. One parser per format, chosen by `--tool-call-parser` or from the chat template:
 *
 * - `hermes` (Qwen 2/2.5/3, Hermes, many fine-tunes): `<tool_call>{"name": ..., "arguments": {...}}</tool_call>`,
 *   one block per call; text outside the blocks is the message content. Template marker `<tool_call>`.
 * - `llama3` (Llama 3.1+ JSON tool calling): the whole answer is `{"name": ..., "parameters": {...}}`
 *   (several joined by `;`), optionally after `<|python_tag|>`. Template marker `<|python_tag|>`.
 * - `mistral`: `[TOOL_CALLS] [{"name": ..., "arguments": {...}}, ...]`. Template marker `[TOOL_CALLS]`.
 *   Where the detokenizer drops the control token, an answer that is a JSON array of calls is read
 *   the same way.
 *
 * Text that looks like a call but does not parse stays content: nothing the model wrote is lost.
 */
import { randomBytes } from "node:crypto";

export interface ParsedToolCall {
  name: string;
  /** The arguments as JSON text (OpenAI's `function.arguments`). */
  arguments: string;
}

export interface ParsedOutput {
  /** Text outside the calls; null when there is none (OpenAI's `content: null` beside tool_calls). */
  content: string | null;
  calls: ParsedToolCall[];
}

export interface ToolCallParser {
  readonly name: string;
  /** Whether a chat template is written for this format. */
  matchesTemplate(template: string): boolean;
  /**
   * Where in `text` (the answer so far) a call may begin: streaming sends text before this index as
   * content and holds the rest until the end. -1 = no call can start in this text yet.
   */
  callStart(text: string): number;
  /** The whole answer → content and calls. */
  parse(text: string): ParsedOutput;
}

/** Index of `marker` in `text`, or of a tail of `text` that could still grow into it; -1 otherwise. */
function markerStart(text: string, marker: string): number {
  const at = text.indexOf(marker);
  if (at >= 0) return at;
  for (let k = Math.min(marker.length - 1, text.length); k > 0; k--)
    if (text.endsWith(marker.slice(0, k))) return text.length - k;
  return -1;
}

function toCall(obj: unknown, argsKey: "arguments" | "parameters"): ParsedToolCall | null {
  if (obj === null || typeof obj !== "object" || Array.isArray(obj)) return null;
  const o = obj as Record<string, unknown>;
  const args = o[argsKey] ?? o["arguments"] ?? {};
  if (typeof o["name"] !== "string" || o["name"] === "") return null;
  return { name: o["name"], arguments: typeof args === "string" ? args : JSON.stringify(args) };
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function content(text: string): string | null {
  const t = text.trim();
  return t === "" ? null : t;
}

const hermes: ToolCallParser = {
  name: "hermes",
  matchesTemplate: (t) => t.includes("<tool_call>"),
  callStart: (text) => markerStart(text, "<tool_call>"),
  parse(text) {
    const calls: ParsedToolCall[] = [];
    const rest = text.replace(/<tool_call>([\s\S]*?)(?:<\/tool_call>|$)/g, (whole, body: string) => {
      const call = toCall(parseJson(body.trim()), "arguments");
      if (!call) return whole;
      calls.push(call);
      return "";
    });
    return calls.length === 0 ? { content: text, calls } : { content: content(rest), calls };
  },
};

const PYTHON_TAG = "<|python_tag|>";

const llama3: ToolCallParser = {
  name: "llama3",
  matchesTemplate: (t) => t.includes(PYTHON_TAG),
  callStart(text) {
    const lead = text.length - text.trimStart().length;
    const body = text.slice(lead);
    if (body === "") return -1;
    if (body.startsWith("{") || PYTHON_TAG.startsWith(body.slice(0, PYTHON_TAG.length))) return lead;
    return -1;
  },
  parse(text) {
    const body = text.trim().replace(PYTHON_TAG, "").trim();
    const calls: ParsedToolCall[] = [];
    for (const part of body.split(/\s*;\s*(?=\{)/)) {
      const call = toCall(parseJson(part), "parameters");
      if (!call) return { content: text, calls: [] };
      calls.push(call);
    }
    return { content: null, calls };
  },
};

const TOOL_CALLS = "[TOOL_CALLS]";

const mistral: ToolCallParser = {
  name: "mistral",
  matchesTemplate: (t) => t.includes(TOOL_CALLS),
  callStart(text) {
    const at = markerStart(text, TOOL_CALLS);
    if (at >= 0) return at;
    return text.trimStart().startsWith("[{") ? text.length - text.trimStart().length : -1;
  },
  parse(text) {
    const at = text.indexOf(TOOL_CALLS);
    const before = at >= 0 ? text.slice(0, at) : "";
    const list = parseJson((at >= 0 ? text.slice(at + TOOL_CALLS.length) : text).trim());
    if (!Array.isArray(list) || list.length === 0) return { content: text, calls: [] };
    const calls = list.map((o) => toCall(o, "arguments"));
    if (calls.some((c) => c === null)) return { content: text, calls: [] };
    return { content: content(before), calls: calls as ParsedToolCall[] };
  },
};

const PARSERS: Record<string, ToolCallParser> = { hermes, llama3, mistral };

export const TOOL_CALL_PARSER_NAMES = Object.keys(PARSERS);

/** The parser named by `--tool-call-parser`; throws naming the choices for an unknown name. */
export function toolCallParser(name: string): ToolCallParser {
  const p = PARSERS[name];
  if (!p)
    throw new Error(
      `unknown tool call parser '${name}': expected one of ${TOOL_CALL_PARSER_NAMES.join(", ")}`,
    );
  return p;
}

/** The parser whose format the chat template writes, or null when it shows none. */
export function parserForTemplate(template: string): ToolCallParser | null {
  return Object.values(PARSERS).find((p) => p.matchesTemplate(template)) ?? null;
}

/** An OpenAI tool call id. */
export function toolCallId(): string {
  return `call_${randomBytes(12).toString("hex")}`;
}
