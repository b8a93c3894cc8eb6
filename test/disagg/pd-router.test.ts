/**
 * The router pairs prefill and decode workers (real processes, one router in front of two prefill
 * workers and one decode worker): completions work and match a unified worker's greedy output; a
 * stalled prefill worker makes the decode worker's transfer deadline fire and the router retries
 * the request on the other prefill worker; with no prefill worker left the client gets a clean
 * HTTP error (never a hang), and every pool is back to idle.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import {
  defaultModel,
  generate,
  greedyRequest,
  metricSum,
  type RouterProc,
  startRouter,
  startWorker,
  type WorkerProc,
  waitFor,
} from "./pd-harness.js";

let u: WorkerProc;
let p1: WorkerProc;
let p2: WorkerProc;
let d: WorkerProc;
let router: RouterProc;
let modelId: string;

async function complete(
  prompt: string,
  maxTokens = 8,
): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(`${router.baseUrl}/completions`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ model: modelId, prompt, max_tokens: maxTokens, temperature: 0, ignore_eos: true }),
    signal: AbortSignal.timeout(30_000),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

before(async () => {
  const model = await defaultModel();
  const common = ["--model-path", model, "--kv-cache-blocks", "256"];
  [u, p1, p2, d] = await Promise.all([
    startWorker("unified", common),
    startWorker("prefill", common),
    startWorker("prefill", common),
    startWorker("decode", [...common, "--disagg-prefill-threshold", "0", "--kv-transfer-timeout-ms", "700"]),
  ]);
  router = await startRouter([p1.address, p2.address, d.address]);
  const models = (await (await fetch(`${router.baseUrl}/models`)).json()) as { data: { id: string }[] };
  modelId = models.data[0]!.id;
});

after(async () => {
  await router?.stop();
  await Promise.all([u?.stop(), p1?.stop(), p2?.stop(), d?.stop()]);
});

describe("router pairs prefill and decode workers", () => {
  test("completions (JSON and SSE) go P -> D: the KV travels, the tokens stream", async () => {
    const r = await complete("The quick brown fox jumps over the lazy dog, again and again and again.", 12);
    assert.equal(r.status, 200, JSON.stringify(r.body));
    const text = (r.body["choices"] as { text: string }[])[0]!.text;
    const usage = r.body["usage"] as { prompt_tokens: number; completion_tokens: number };
    assert.equal(usage.completion_tokens, 12);
    const bytes = metricSum(await d.metrics(), "radixserve_kv_transfer_bytes_total");
    assert.ok(bytes > 0, "the KV travelled from a prefill worker");
    assert.ok(text.length > 0);
    const res = await fetch(`${router.baseUrl}/completions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({
        model: modelId,
        prompt: "Stream me a few tokens please",
        max_tokens: 5,
        stream: true,
      }),
    });
    assert.equal(res.status, 200);
    const sse = await res.text();
    assert.ok(sse.trimEnd().endsWith("data: [DONE]"));
    assert.ok(sse.split("\n").filter((l) => l.startsWith("data: {")).length >= 2);
    assert.ok(metricSum(await d.metrics(), "radixserve_kv_transfer_bytes_total") > bytes);
  });

  test("a stalled prefill worker: the router retries on the other one and the request succeeds", async () => {
    const before = metricSum(await d.metrics(), "radixserve_kv_transfer_failures_total");
    // Ties between idle prefill workers go to the smaller address: stall that one (after the
    // router's load polls have seen both idle again).
    await new Promise((r) => setTimeout(r, 600));
    const first = p1.address < p2.address ? p1 : p2;
    first.proc.kill("SIGSTOP");
    try {
      const r = await complete("Stalled prefill workers must not hang a request; a retry finds another.", 6);
      assert.equal(r.status, 200, JSON.stringify(r.body));
      const failures = metricSum(await d.metrics(), "radixserve_kv_transfer_failures_total") - before;
      // 1 when the stalled worker was picked first (the usual case), 0 when a load report tipped the pick.
      assert.ok(failures <= 1, `failed transfers before success: ${failures}`);
    } finally {
      first.proc.kill("SIGCONT");
    }
  });

  test("no prefill worker left: a clean HTTP error, not a hang; D's pool back to idle", async () => {
    const before = metricSum(await d.metrics(), "radixserve_kv_transfer_failures_total");
    p1.proc.kill("SIGSTOP");
    p2.proc.kill("SIGSTOP");
    try {
      const t0 = Date.now();
      const r = await complete("Nobody can prefill this one right now, so it must fail cleanly.", 4);
      assert.ok(r.status >= 500 && r.status < 600, `status ${r.status}`);
      const failures = metricSum(await d.metrics(), "radixserve_kv_transfer_failures_total") - before;
      // Each prefill worker is tried at most once (2 when both were still listed healthy; 1 when the
      // router's health poll had already dropped the second), then the request gives up.
      assert.ok(failures >= 1 && failures <= 2, `failed transfers: ${failures}`);
      assert.ok((r.body["error"] as { message: string }).message.length > 0);
      assert.ok(Date.now() - t0 < 15_000);
    } finally {
      p1.proc.kill("SIGCONT");
      p2.proc.kill("SIGCONT");
    }
    for (const w of [d, p1, p2]) {
      const idle = await waitFor(async () => {
        const l = await w.load();
        return l.kvBlocksFree === l.kvBlocksTotal && l.runningRequests === 0;
      }, 5000);
      assert.ok(idle, `${w.address} idle`);
    }
  });

  test("PD through the router gives the unified worker's tokens (gRPC check of the same prompt)", async () => {
    const ids = Array.from({ length: 70 }, (_, i) => 5 + i * 3);
    const a = await generate(u.client, greedyRequest(ids, 8));
    const b = await generate(d.client, greedyRequest(ids, 8, p1.address));
    assert.deepEqual(b.tokens, a.tokens);
  });
});
