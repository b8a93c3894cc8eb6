/**
 * The chaos bench's load: clients that each send one request after another to the router (half
 * streaming, half not; shared-prefix and random prompts alternating) and classify every answer:
 *   ok       200 and a complete answer (non-streaming: choices with a finish reason; streaming:
 *            a finish chunk and `data: [DONE]`, no error event)
 *   clean    a clean failure: an HTTP error with an OpenAI error body, or a stream that ends with
 *            an error event and `data: [DONE]`
 *   hung     no complete answer within the hang limit (the client gives up)
 *   lost     anything else: connection reset, no body, a stream cut without `[DONE]`
 * A non-streaming request that failed cleanly with a worker-side code (no_worker, internal,
 * kv_transfer_failed) is also counted as `retryable`: nothing had reached the client, so the
 * router could have run it elsewhere.
 */

export type Outcome = "ok" | "clean" | "hung" | "lost";

export interface Result {
  startedAt: number;
  outcome: Outcome;
  stream: boolean;
  retryable: boolean;
  detail: string;
}

export interface LoadOptions {
  routerUrl: string;
  apiKey: string;
  model: string;
  clients: number;
  hangMs: number;
  maxTokens: number;
}

const SHARED = "You are a careful assistant. Answer briefly and precisely. ".repeat(6);
const WORKER_SIDE = new Set(["no_worker", "internal", "kv_transfer_failed"]);

function promptFor(client: number, seq: number): string {
  const salt = `${client}-${seq}-${Math.random().toString(36).slice(2)}`;
  return seq % 2 === 0 ? `${SHARED}Question ${salt}?` : `Random ${salt} ${"lorem ".repeat(10 + (seq % 7))}`;
}

async function one(opts: LoadOptions, client: number, seq: number): Promise<Result> {
  const stream = client % 2 === 0;
  const startedAt = Date.now();
  const ac = new AbortController();
  const timer = setTimeout(() => ac.abort(), opts.hangMs);
  const done = (outcome: Outcome, detail: string, retryable = false): Result => ({
    startedAt,
    outcome,
    stream,
    retryable,
    detail,
  });
  try {
    const res = await fetch(`${opts.routerUrl}/v1/completions`, {
      method: "POST",
      signal: ac.signal,
      headers: { "content-type": "application/json", authorization: `Bearer ${opts.apiKey}` },
      body: JSON.stringify({
        model: opts.model,
        prompt: promptFor(client, seq),
        max_tokens: opts.maxTokens,
        temperature: 0.7,
        stream,
      }),
    });
    const text = await res.text();
    if (res.status !== 200) {
      try {
        const code = (JSON.parse(text) as { error: { code: string } }).error.code;
        return done("clean", `${res.status} ${code}`, !stream && WORKER_SIDE.has(code));
      } catch {
        return done("lost", `${res.status} without an error body`);
      }
    }
    if (!stream) {
      const body = JSON.parse(text) as { choices?: { finish_reason?: string }[] };
      return body.choices?.[0]?.finish_reason ? done("ok", "200") : done("lost", "200 without a choice");
    }
    if (!text.trimEnd().endsWith("data: [DONE]")) return done("lost", "stream cut before [DONE]");
    if (text.includes('data: {"error"')) return done("clean", "error event");
    return text.includes('"finish_reason":"') ? done("ok", "200") : done("lost", "stream without a finish");
  } catch (err) {
    if (ac.signal.aborted) return done("hung", `no answer in ${opts.hangMs} ms`);
    return done("lost", err instanceof Error ? `${err.message} ${String(err.cause ?? "")}` : String(err));
  } finally {
    clearTimeout(timer);
  }
}

/** Runs the clients until `stop()`; resolves with every result once the last request is answered. */
export function runLoad(opts: LoadOptions): { stop(): void; results: Promise<Result[]> } {
  let running = true;
  const results: Result[] = [];
  const loops = Array.from({ length: opts.clients }, async (_, client) => {
    for (let seq = 0; running; seq++) results.push(await one(opts, client, seq));
  });
  return {
    stop: () => {
      running = false;
    },
    results: Promise.all(loops).then(() => results),
  };
}
