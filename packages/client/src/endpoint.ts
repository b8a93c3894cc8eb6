/**
 * The HTTP side: SGLang's native API of a RadixServe router (POST /generate, GET /get_model_info,
 * GET /get_server_info, POST /flush_cache) over Node's fetch, with the API key as a bearer token.
 */
import { ConnectionError, type ErrorBody, errorFromResponse } from "./errors.js";

export interface SamplingParams {
  max_new_tokens?: number;
  temperature?: number;
  top_p?: number;
  top_k?: number;
  min_p?: number;
  frequency_penalty?: number;
  presence_penalty?: number;
  repetition_penalty?: number;
  stop?: string | string[];
  stop_token_ids?: number[];
  ignore_eos?: boolean;
  sampling_seed?: number;
  regex?: string;
  json_schema?: string;
  ebnf?: string;
}

export interface ChatMessage {
  role: "system" | "user" | "assistant";
  content: string;
}

/** A /generate request for one prompt (the client never batches prompts of different programs). */
export interface GenerateRequest {
  text?: string | string[];
  input_ids?: number[];
  /** RadixServe extension: rendered by the server with the model's chat template. */
  messages?: ChatMessage[] | ChatMessage[][];
  sampling_params?: SamplingParams;
  stream?: boolean;
  return_logprob?: boolean;
  logprob_start_len?: number;
  top_logprobs_num?: number;
  return_text_in_logprobs?: boolean;
}

/** [logprob (null for the first prompt token), token id, token text or null]. */
export type LogprobEntry = [number | null, number, string | null];

export interface MetaInfo {
  id: string;
  finish_reason: { type: "stop" | "length" | "abort" } | null;
  prompt_tokens: number;
  completion_tokens: number;
  cached_tokens: number;
  e2e_latency: number;
  input_token_logprobs?: LogprobEntry[];
  output_token_logprobs?: LogprobEntry[];
}

export interface GenerateResult {
  text: string;
  output_ids: number[];
  meta_info: MetaInfo;
}

export interface EndpointOptions {
  /** Sent as `Authorization: Bearer <apiKey>`. Default: $RADIXSERVE_API_KEY when set. */
  apiKey?: string;
}

export class RuntimeEndpoint {
  readonly baseUrl: string;
  private readonly apiKey: string | undefined;

  /** `baseUrl`: the router's root (http://host:port); a trailing /v1 is dropped. */
  constructor(baseUrl: string, opts: EndpointOptions = {}) {
    this.baseUrl = baseUrl.replace(/\/+$/, "").replace(/\/v1$/, "");
    this.apiKey = opts.apiKey ?? process.env["RADIXSERVE_API_KEY"];
  }

  private async request(method: "GET" | "POST", path: string, body?: unknown): Promise<Response> {
    const headers: Record<string, string> = { "content-type": "application/json" };
    if (this.apiKey) headers["authorization"] = `Bearer ${this.apiKey}`;
    let res: Response;
    try {
      res = await fetch(`${this.baseUrl}${path}`, {
        method,
        headers,
        ...(method === "POST" ? { body: JSON.stringify(body ?? {}) } : {}),
      });
    } catch (err) {
      throw new ConnectionError(
        `cannot reach ${this.baseUrl}: ${(err as Error).message}`,
        0,
        null,
        null,
        null,
        {
          cause: err,
        },
      );
    }
    if (!res.ok) {
      const text = await res.text();
      let parsed: ErrorBody | null = null;
      try {
        parsed = JSON.parse(text) as ErrorBody;
      } catch {
        parsed = { error: { message: text || `HTTP ${res.status}` } };
      }
      throw errorFromResponse(res.status, parsed, res.headers.get("x-request-id"));
    }
    return res;
  }

  async generate(req: GenerateRequest): Promise<GenerateResult> {
    const res = await this.request("POST", "/generate", { ...req, stream: false });
    return (await res.json()) as GenerateResult;
  }

  /** A batch request (text or messages lists): one result per prompt, in order. */
  async generateBatch(req: GenerateRequest): Promise<GenerateResult[]> {
    const res = await this.request("POST", "/generate", { ...req, stream: false });
    return (await res.json()) as GenerateResult[];
  }

  /** Streams the cumulative results of one prompt; the last one carries finish_reason. */
  async *generateStream(req: GenerateRequest): AsyncGenerator<GenerateResult, void, undefined> {
    const res = await this.request("POST", "/generate", { ...req, stream: true });
    const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
    let buf = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      buf += value;
      let cut = buf.indexOf("\n\n");
      while (cut >= 0) {
        const event = buf.slice(0, cut);
        buf = buf.slice(cut + 2);
        cut = buf.indexOf("\n\n");
        const data = event.startsWith("data: ") ? event.slice(6) : null;
        if (data === null) continue;
        if (data === "[DONE]") return;
        const obj = JSON.parse(data) as GenerateResult & ErrorBody;
        if (obj.error) throw errorFromResponse(500, obj, res.headers.get("x-request-id"));
        yield obj;
      }
    }
  }

  async modelInfo(): Promise<{ model_path: string; max_context_length: number; vocab_size: number }> {
    return (await (await this.request("GET", "/get_model_info")).json()) as {
      model_path: string;
      max_context_length: number;
      vocab_size: number;
    };
  }

  async serverInfo(): Promise<Record<string, unknown>> {
    return (await (await this.request("GET", "/get_server_info")).json()) as Record<string, unknown>;
  }

  async flushCache(): Promise<{ success: boolean; blocks_freed: number }> {
    return (await (await this.request("POST", "/flush_cache")).json()) as {
      success: boolean;
      blocks_freed: number;
    };
  }
}
