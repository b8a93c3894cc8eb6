/**
 * Tool calls in responses, as OpenAI sends them: `message.tool_calls` (ids `call_...`, type
 * `function`, `arguments` as JSON text) with `finish_reason: "tool_calls"`; in streams, content
 * deltas until a call may begin, then per call one delta with its id and name and one with its
 * arguments (indexes 0, 1, ...), so the SDKs' accumulators rebuild the non-streamed message.
 * `parallel_tool_calls: false` keeps the first call only.
 */
import type { FinishReason } from "./choice-runner.js";
import type { RequestPlan } from "./request-plan.js";
import { type ParsedOutput, toolCallId } from "./tool-call-parser.js";

type Tools = NonNullable<RequestPlan["tools"]>;

export interface ToolCallJson {
  id: string;
  type: "function";
  function: { name: string; arguments: string };
}

function parsed(tools: Tools, text: string): ParsedOutput {
  const out = tools.parser.parse(text);
  return tools.parallel ? out : { ...out, calls: out.calls.slice(0, 1) };
}

function finish(calls: number, reason: FinishReason): FinishReason | "tool_calls" {
  return calls > 0 && reason === "stop" ? "tool_calls" : reason;
}

/** The assistant message and finish reason of a whole answer. */
export function toolMessage(tools: Tools, text: string, reason: FinishReason) {
  const out = parsed(tools, text);
  const message: { role: "assistant"; content: string | null; tool_calls?: ToolCallJson[] } = {
    role: "assistant",
    content: out.content,
  };
  if (out.calls.length > 0)
    message.tool_calls = out.calls.map((c) => ({
      id: toolCallId(),
      type: "function",
      function: { name: c.name, arguments: c.arguments },
    }));
  else message.content = text;
  return { message, finishReason: finish(out.calls.length, reason) };
}

/** One choice's stream: which text may go out as content now, and the calls at the end. */
export class ToolCallStream {
  private text = "";
  private sent = 0;

  constructor(private readonly tools: Tools) {}

  /** Adds generated text; returns the content that can be sent now (never part of a call). */
  push(text: string): string {
    this.text += text;
    const start = this.tools.parser.callStart(this.text.slice(this.sent));
    const upTo = start < 0 ? this.text.length : this.sent + start;
    const out = this.text.slice(this.sent, upTo);
    this.sent = upTo;
    return out;
  }

  /** End of the answer: the deltas still to send and the finish reason. */
  end(reason: FinishReason): {
    deltas: Record<string, unknown>[];
    finishReason: FinishReason | "tool_calls";
  } {
    const held = this.text.slice(this.sent);
    this.sent = this.text.length;
    if (held === "") return { deltas: [], finishReason: reason };
    const out = parsed(this.tools, held);
    if (out.calls.length === 0) return { deltas: [{ content: held }], finishReason: reason };
    const deltas: Record<string, unknown>[] = [];
    if (out.content !== null) deltas.push({ content: out.content });
    out.calls.forEach((c, index) => {
      deltas.push({
        tool_calls: [
          { index, id: toolCallId(), type: "function", function: { name: c.name, arguments: "" } },
        ],
      });
      deltas.push({ tool_calls: [{ index, function: { arguments: c.arguments } }] });
    });
    return { deltas, finishReason: finish(out.calls.length, reason) };
  }
}
