/**
 * Chat templates: tokenizer_config.json's Jinja `chat_template`, rendered with @huggingface/jinja
 * the way transformers' apply_chat_template does (variables: messages, add_generation_prompt,
 * bos_token, eos_token, plus caller extras such as tools).
 *
 * Messages whose content is an array of OpenAI content parts are flattened to a string first
 * (text parts joined with "\n", as vLLM's "string" content format does); non-text parts are
 * rejected, since the models served here are text-only. Assistant tool calls reach the template as
 * `tool_calls` with `function.arguments` parsed into an object (what Hugging Face templates index
 * into, as transformers and vLLM pass them); tool results carry `tool_call_id`.
 */
import { Template } from "@huggingface/jinja";
import { RadixServeError } from "../errors/index.js";
import type { ModelTokenizer } from "./tokenizer.js";

export type ChatRole = "system" | "user" | "assistant" | "tool";

export interface ChatTextPart {
  type: "text";
  text: string;
}

/** A call the assistant made (OpenAI's shape; `arguments` is the JSON text the model wrote). */
export interface ChatToolCall {
  id: string;
  type: "function";
  function: { name: string; arguments: string };
}

export interface ChatMessage {
  role: ChatRole;
  /** null only for an assistant turn that holds tool calls alone. */
  content: string | ChatTextPart[] | null;
  /** Assistant turns: the tool calls it made. */
  toolCalls?: readonly ChatToolCall[] | undefined;
  /** Tool turns: the id of the call this message answers. */
  toolCallId?: string | undefined;
}

export interface RenderOptions {
  /** Append the header that starts an assistant turn. Default true (what a server wants). */
  addGenerationPrompt?: boolean;
  /** Extra template variables (e.g. tools, date_string). */
  extra?: Record<string, unknown>;
}

const ROLES: ReadonlySet<string> = new Set(["system", "user", "assistant", "tool"]);

export class ChatTemplate {
  private readonly template: Template;

  /** Throws invalid_request when `source` is not a valid Jinja template. */
  constructor(
    readonly source: string,
    readonly specialTokens: { bosToken?: string | null; eosToken?: string | null } = {},
  ) {
    try {
      this.template = new Template(source);
    } catch (err) {
      throw new RadixServeError("internal", `chat template does not parse: ${(err as Error).message}`, {
        cause: err,
      });
    }
  }

  /**
   * The tokenizer's chat template. A model without one gets a clear invalid_request error: the
   * caller should use the completions API (raw prompt) instead.
   */
  static fromTokenizer(tokenizer: ModelTokenizer): ChatTemplate {
    if (tokenizer.chatTemplate === null) {
      throw new RadixServeError(
        "invalid_request",
        "this model has no chat template (no chat_template.jinja, no chat_template in tokenizer_config.json or the GGUF); use /v1/completions with a raw prompt",
      );
    }
    return new ChatTemplate(tokenizer.chatTemplate, {
      bosToken: tokenizer.bosToken,
      eosToken: tokenizer.eosToken,
    });
  }

  /** Renders a conversation to the prompt text. Bad messages → invalid_request. */
  render(messages: readonly ChatMessage[], opts: RenderOptions = {}): string {
    const flat = normalizeMessages(messages);
    try {
      return this.template.render({
        ...opts.extra,
        messages: flat,
        add_generation_prompt: opts.addGenerationPrompt ?? true,
        bos_token: this.specialTokens.bosToken ?? "",
        eos_token: this.specialTokens.eosToken ?? "",
      });
    } catch (err) {
      // Templates reject bad conversations with raise_exception (e.g. roles that do not alternate).
      throw new RadixServeError(
        "invalid_request",
        `chat template rejected the messages: ${(err as Error).message}`,
        {
          cause: err,
          param: "messages",
        },
      );
    }
  }
}

/** A template-ready message: plain string content, tool calls with parsed arguments. */
interface TemplateMessage {
  role: string;
  content: string;
  tool_calls?: { id: string; type: "function"; function: { name: string; arguments: unknown } }[];
  tool_call_id?: string;
}

function parsedArguments(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text; // the template shows what the model wrote
  }
}

function normalizeMessages(messages: readonly ChatMessage[]): TemplateMessage[] {
  if (!Array.isArray(messages) || messages.length === 0) {
    throw new RadixServeError("invalid_request", "messages must be a non-empty array", { param: "messages" });
  }
  return messages.map((m, i) => {
    if (!m || typeof m !== "object" || !ROLES.has(m.role)) {
      throw new RadixServeError(
        "invalid_request",
        `messages[${i}].role must be one of system, user, assistant, tool`,
        { param: `messages[${i}].role` },
      );
    }
    const out: TemplateMessage = {
      role: m.role,
      content: m.content === null && m.toolCalls?.length ? "" : contentToString(m.content, i),
    };
    if (m.toolCalls?.length)
      out.tool_calls = m.toolCalls.map((c: ChatToolCall) => ({
        id: c.id,
        type: c.type,
        function: { name: c.function.name, arguments: parsedArguments(c.function.arguments) },
      }));
    if (m.toolCallId !== undefined) out.tool_call_id = m.toolCallId;
    return out;
  });
}

function contentToString(content: unknown, i: number): string {
  if (typeof content === "string") return content;
  if (Array.isArray(content)) {
    return content
      .map((part: unknown, j) => {
        const p = part as { type?: unknown; text?: unknown } | null;
        if (p && p.type === "text" && typeof p.text === "string") return p.text;
        const kind = p && typeof p.type === "string" ? p.type : typeof part;
        throw new RadixServeError(
          "invalid_request",
          `messages[${i}].content[${j}] is a "${kind}" part; only text parts are supported`,
          { param: `messages[${i}].content` },
        );
      })
      .join("\n");
  }
  throw new RadixServeError(
    "invalid_request",
    `messages[${i}].content must be a string or an array of text parts`,
    {
      param: `messages[${i}].content`,
    },
  );
}
