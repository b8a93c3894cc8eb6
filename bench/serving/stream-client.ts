/**
 * One streamed /v1/completions request with client-side timing: TTFT (first text chunk), the gaps
 * between chunks (inter-token latency), end-to-end latency, and the usage the server reports.
 * SSE is parsed by hand: `data: <json>` events separated by a blank line, ending with `[DONE]`.
 */

export interface RequestResult {
  ok: boolean;
  error?: string;
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
  const fail = (error: string): RequestResult => ({
    ok: false,
    error,
    promptTokens: 0,
    completionTokens: 0,
    cachedTokens: 0,
    ttftMs: 0,
    itlMs: [],
    e2eMs: performance.now() - t0,
  });
  let res: Response;
  try {
    res = await fetch(`${t.baseUrl}/completions`, {
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
  } catch (err) {
    return fail(`fetch failed: ${(err as Error).message}`);
  }
  if (res.status !== 200) return fail(`HTTP ${res.status}: ${await res.text()}`);
  const decoder = new TextDecoder();
  let buf = "";
  let ttft = 0;
  let last = 0;
  const itl: number[] = [];
  let usage: Chunk["usage"] = null;
  let finish: string | null = null;
  for await (const bytes of res.body as unknown as AsyncIterable<Uint8Array>) {
    buf += decoder.decode(bytes, { stream: true });
    for (let end = buf.indexOf("\n\n"); end >= 0; end = buf.indexOf("\n\n")) {
      const event = buf.slice(0, end);
      buf = buf.slice(end + 2);
      if (!event.startsWith("data: ")) continue;
      const data = event.slice(6);
      if (data === "[DONE]") continue;
      const chunk = JSON.parse(data) as Chunk;
      if (chunk.error) return fail(`stream error: ${chunk.error.message}`);
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
  if (!usage && t.backend === "llama-cpp") {
    // min_tokens = max_tokens: a "length" finish means exactly outputLen tokens were generated.
    if (finish !== "length") return fail(`finish_reason ${finish} (expected length)`);
    usage = { prompt_tokens: promptIds.length, completion_tokens: outputLen };
  }
  if (!usage) return fail("no usage chunk");
  return {
    ok: true,
    promptTokens: usage.prompt_tokens,
    completionTokens: usage.completion_tokens,
    cachedTokens: usage.prompt_tokens_details?.cached_tokens ?? 0,
    ttftMs: ttft,
    itlMs: itl,
    e2eMs: performance.now() - t0,
  };
}
