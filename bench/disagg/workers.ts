/**
 * Starts worker processes for the disaggregation benchmarks (the test harness's launcher, reused)
 * and a small gRPC streaming client that records time to first token and inter-token gaps.
 */
import type { GenerateRequest, GenerateResponse__Output, WorkerServiceClient } from "@radixserve/core";

export { defaultModel, prompt, startWorker, type WorkerProc } from "../../test/disagg/pd-harness.js";

export interface Timing {
  ttftMs: number;
  /** Gaps between consecutive tokens (ms). */
  itlMs: number[];
  tokens: number[];
  error: string | null;
}

export async function timedGenerate(client: WorkerServiceClient, req: GenerateRequest): Promise<Timing> {
  const t0 = performance.now();
  let last = 0;
  const out: Timing = { ttftMs: Number.NaN, itlMs: [], tokens: [], error: null };
  try {
    for await (const ev of client.generate(req) as AsyncIterable<GenerateResponse__Output>) {
      if (ev.event === "token" && ev.token) {
        const now = performance.now();
        if (out.tokens.length === 0) out.ttftMs = now - t0;
        else out.itlMs.push(now - last);
        last = now;
        out.tokens.push(ev.token.tokenId);
      } else if (ev.event === "error" && ev.error) out.error = `${ev.error.code}: ${ev.error.message}`;
    }
  } catch (err) {
    out.error = (err as Error).message;
  }
  return out;
}

export function pct(xs: number[], p: number): number {
  if (xs.length === 0) return Number.NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
}

export function median(xs: number[]): number {
  return pct(xs, 50);
}
