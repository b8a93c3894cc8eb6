/**
 * One streamed /v1/completions request with client-side timing: TTFT (first text chunk), the gaps
 * between chunks (inter-token latency), end-to-end latency, and the usage the server reports.
 * SSE is parsed by hand: `data: <json>` events separated by a blank line, ending with `[DONE]`.
 *
 * A `fetch failed` before any response byte is retried once (and counted in `retries`): undici
 * reuses keep-alive sockets, and one the server closed while idle fails the next request before
 * it is sent, which says nothing about the server under test. A second failure is reported. Every
 * failure carries a `cause` (a short category, see failureCause) so the bench can count them.
 */

export interface RequestResult {
  ok: boolean;
  error?: string;
  /** The failure's category: "fetch failed (ECONNRESET)", "HTTP 503", "stream cut", ... */
  cause?: string;
  /** Fetches retried after a `fetch failed` before any byte (0 or 1). */
  retries: number;
  promptTokens: number;
  completionTokens: number;
  cachedTokens: number;
  ttftMs: number;
  itlMs: number[];
  e2eMs: number;
}

export interface Target {
  baseUrl: string;
  model: string;
  apiKey?: string | undefined;
  /**
   * "radixserve": token-id prompts, ignore_eos, usage from stream_options (exact counts).
   * "llama-cpp": llama.cpp servers (llama-cpp-python's, llama-server): text prompts (the first
   * takes no token ids), min_tokens / ignore_eos, and when the stream carries no usage a
   * "length" finish counts as exactly max_tokens generated, the prompt as our tokenizer's count.
   */
  backend: "radixserve" | "llama-cpp";
  /** Turns prompt ids into text for the llama-cpp backend. */
  decode?: (ids: number[]) => string;
}

interface Chunk {
  choices?: { text?: string; finish_reason?: string | null }[];
  usage?: {
    prompt_tokens: number;
    completion_tokens: number;
    prompt_tokens_details?: { cached_tokens?: number };
  } | null;
  error?: { message: string };
}

export async function streamCompletion(
  t: Target,
  promptIds: number[],
  outputLen: number,
): Promise<RequestResult> {
  const t0 = performance.now();
  let retries = 0;
  const fail = (cause: string, error: string): RequestResult => ({
    ok: false,
    error,
    cause,
    retries,
    promptTokens: 0,
    completionTokens: 0,
    cachedTokens: 0,
    ttftMs: 0,
    itlMs: [],
    e2eMs: performance.now() - t0,
  });
  const send = (): Promise<Response> =>
    fetch(`${t.baseUrl}/completions`, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        ...(t.apiKey ? { authorization: `Bearer ${t.apiKey}` } : {}),
      },
      body: JSON.stringify(
        t.backend === "radixserve"
          ? {
              model: t.model,
              prompt: promptIds,
              max_tokens: outputLen,
              temperature: 0,
              ignore_eos: true,
              stream: true,
              stream_options: { include_usage: true },
            }
          : {
              model: t.model,
              prompt: t.decode!(promptIds),
              max_tokens: outputLen,
              // llama-cpp-python knows min_tokens, llama.cpp's llama-server ignore_eos; each
              // server ignores the field it does not know.
              min_tokens: outputLen,
              ignore_eos: true,
              temperature: 0,
              stream: true,
              stream_options: { include_usage: true },
            },
      ),
    });
  let res: Response;
  try {
    res = await send();
  } catch (first) {
    retries++;
    try {
      res = await send();
    } catch (err) {
      return fail(
        fetchCause(err),
        `fetch failed twice: ${describeFetchError(first)}; then ${describeFetchError(err)}`,
      );
    }
  }
  if (res.status !== 200) return fail(`HTTP ${res.status}`, `HTTP ${res.status}: ${await res.text()}`);
  const decoder = new TextDecoder();
  let buf = "";
  let ttft = 0;
  let last = 0;
  const itl: number[] = [];
  let usage: Chunk["usage"] = null;
  let finish: string | null = null;
  try {
    for await (const bytes of res.body as unknown as AsyncIterable<Uint8Array>) {
      buf += decoder.decode(bytes, { stream: true });
      for (let end = buf.indexOf("\n\n"); end >= 0; end = buf.indexOf("\n\n")) {
        const event = buf.slice(0, end);
        buf = buf.slice(end + 2);
        if (!event.startsWith("data: ")) continue;
        const data = event.slice(6);
        if (data === "[DONE]") continue;
        const chunk = JSON.parse(data) as Chunk;
        if (chunk.error) return fail("stream error event", `stream error: ${chunk.error.message}`);
        if (chunk.usage) usage = chunk.usage;
        if (chunk.choices?.[0]?.finish_reason) finish = chunk.choices[0].finish_reason;
        if (chunk.choices?.[0]?.text) {
          const now = performance.now();
          if (ttft === 0) ttft = now - t0;
          else itl.push(now - last);
          last = now;
        }
      }
    }
  } catch (err) {
    // The body broke off after the headers (server died, socket reset) or was not JSON: no retry,
    // the request was already running on the server.
    return fail(
      "stream cut",
      `stream cut after ${itl.length + (ttft > 0 ? 1 : 0)} chunks: ${describeFetchError(err)}`,
    );
  }
  if (!usage && t.backend === "llama-cpp") {
    // min_tokens = max_tokens: a "length" finish means exactly outputLen tokens were generated.
    if (finish !== "length") return fail("wrong finish_reason", `finish_reason ${finish} (expected length)`);
    usage = { prompt_tokens: promptIds.length, completion_tokens: outputLen };
  }
  if (!usage) return fail("no usage chunk", "no usage chunk");
  return {
    ok: true,
    retries,
    promptTokens: usage.prompt_tokens,
    completionTokens: usage.completion_tokens,
    cachedTokens: usage.prompt_tokens_details?.cached_tokens ?? 0,
    ttftMs: ttft,
    itlMs: itl,
    e2eMs: performance.now() - t0,
  };
}

/** undici's "fetch failed" hides the reason in `cause` (ECONNRESET, UND_ERR_SOCKET, ECONNREFUSED...). */
function causeCode(err: unknown): string | undefined {
  const cause = (err as { cause?: { code?: unknown } } | undefined)?.cause;
  return typeof cause?.code === "string" ? cause.code : undefined;
}

function describeFetchError(err: unknown): string {
  const msg = err instanceof Error ? err.message : String(err);
  const cause = (err as { cause?: unknown } | undefined)?.cause;
  const detail = cause instanceof Error ? cause.message : undefined;
  return detail ? `${msg} (${causeCode(err) ?? "cause"}: ${detail})` : msg;
}

function fetchCause(err: unknown): string {
  return `fetch failed (${causeCode(err) ?? (err instanceof Error ? err.name : "unknown")})`;
}

/**
 * The category a failed or wrong result is counted under: its own cause, or for a result that
 * came back but with the wrong token counts, "wrong token counts".
 */
export function failureCause(r: RequestResult): string {
  return r.ok ? "wrong token counts" : (r.cause ?? "unknown");
}
