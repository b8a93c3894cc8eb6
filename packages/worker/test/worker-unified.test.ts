import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { type GetModelInfoResponse__Output, makeModel } from "@radixserve/core";
import { generate, getLoad, unary, waitForLoad } from "./worker-grpc-client.js";
import { runWorkerToExit, startWorkerProcess, type WorkerProcess } from "./worker-harness.js";

const KV_BLOCKS = 128;
let dir: string;
let modelPath: string;
let w: WorkerProcess;

const prompt = (n: number, from = 100): number[] =>
  Array.from({ length: n }, (_, i) => from + ((i * 37) % 5000));
const greedy = (maxNewTokens: number) => ({ temperature: 0, maxNewTokens });

before(async () => {
  dir = mkdtempSync(join(tmpdir(), "radixserve-worker-"));
  modelPath = await makeModel({ preset: "tiny", out: join(dir, "tiny") });
  w = await startWorkerProcess([
    "--model-path",
    modelPath,
    "--kv-cache-blocks",
    String(KV_BLOCKS),
    "--block-size",
    "16",
    "--max-running-requests",
    "2",
    "--max-queued-requests",
    "2",
    "--threads",
    "2",
    "--served-model-name",
    "tiny-test",
  ]);
});

after(async () => {
  await w?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe("worker (unified, real engine, real gRPC)", () => {
  test("GetModelInfo and Health describe the loaded model", async () => {
    const info = await unary<GetModelInfoResponse__Output>((cb) => w.client.GetModelInfo({}, cb));
    assert.equal(info.modelId, "tiny-test");
    assert.equal(info.vocabSize, 32000);
    assert.equal(info.maxContextLength, 2048);
    assert.equal(info.blockSize, 16);
    assert.equal(info.tpSize, 1);
    assert.equal(info.disaggMode, "unified");
    assert.deepEqual(info.eosTokenIds, [2]);
    assert.match(info.blockHashSeed, /^[0-9a-f]{16}$/);
    const h = await unary<{ status: string; disaggMode: string }>((cb) => w.client.Health({}, cb));
    assert.deepEqual(h, { status: "STATUS_SERVING", disaggMode: "unified" });
  });

  test("Generate streams greedy tokens then Finished with usage; greedy is deterministic", async () => {
    const req = { requestId: "g1", inputIds: prompt(20), sampling: { ...greedy(8), ignoreEos: true } };
    const a = await generate(w.client, req);
    const b = await generate(w.client, { ...req, requestId: "g2" });
    assert.equal(a.tokens.length, 8);
    for (const t of a.tokens) assert.ok(t >= 0 && t < 32000);
    assert.deepEqual(b.tokens, a.tokens);
    assert.equal(a.last?.event, "finished");
    assert.equal(a.last?.finished?.reason, "FINISH_REASON_LENGTH");
    assert.deepEqual(a.last?.finished?.usage, { promptTokens: 20, completionTokens: 8, cachedTokens: 0 });
    assert.equal(a.last?.finished?.matchedStopTokenId, -1);
    // 20 prompt tokens -> 1 full block cached by g1 -> g2 reuses 16 tokens.
    assert.equal(b.last?.finished?.usage?.cachedTokens, 16);
  });

  test("stop_token_ids end the stream with FINISH_REASON_STOP without streaming the stop token", async () => {
    const base = { inputIds: prompt(9, 4000), sampling: { ...greedy(6), ignoreEos: true } };
    const probe = await generate(w.client, { requestId: "st0", ...base });
    const third = probe.tokens[2]!;
    const r = await generate(w.client, {
      requestId: "st1",
      ...base,
      sampling: { ...base.sampling, stopTokenIds: [third] },
    });
    const firstThird = probe.tokens.indexOf(third);
    assert.deepEqual(r.tokens, probe.tokens.slice(0, firstThird));
    assert.equal(r.last?.finished?.reason, "FINISH_REASON_STOP");
    assert.equal(r.last?.finished?.matchedStopTokenId, third);
    assert.equal(r.last?.finished?.usage?.completionTokens, firstThird + 1);
  });

  test("seeded sampling is reproducible, and logprobs come with the requested top alternatives", async () => {
    const sampling = { temperature: 1, topP: 0.95, maxNewTokens: 12, ignoreEos: true, seed: "42" };
    const a = await generate(w.client, { requestId: "s1", inputIds: prompt(7, 6000), sampling });
    const b = await generate(w.client, { requestId: "s2", inputIds: prompt(7, 6000), sampling });
    assert.equal(a.tokens.length, 12);
    assert.deepEqual(b.tokens, a.tokens);
    const lp = await generate(w.client, {
      requestId: "lp",
      inputIds: prompt(7, 6000),
      sampling: { ...greedy(4), hasLogprobs: true, logprobs: 3 },
    });
    const tokenEvents = lp.events.filter((e) => e.event === "token");
    assert.equal(tokenEvents.length, 4);
    for (const e of tokenEvents) {
      const l = e.token!.logprob!;
      assert.ok(l.logprob <= 0);
      assert.equal(l.top.length, 3);
      assert.equal(l.top[0]!.tokenId, e.token!.tokenId, "greedy picks the top alternative");
    }
    const none = await generate(w.client, {
      requestId: "nolp",
      inputIds: prompt(7, 6000),
      sampling: greedy(2),
    });
    assert.equal(none.events[0]?.token?.logprob, null);
  });

  test("a second request sharing a prefix reports cached_tokens and the hit-rate metric moves", async () => {
    const shared = prompt(70, 300);
    await generate(w.client, { requestId: "p1", inputIds: [...shared, 11], sampling: greedy(4) });
    const r = await generate(w.client, {
      requestId: "p2",
      inputIds: [...shared, 12, 13],
      sampling: greedy(4),
    });
    assert.equal(r.last?.finished?.usage?.cachedTokens, 64, "4 full shared blocks of 16");
    const load = await getLoad(w.client);
    assert.ok(load.cacheHitRate > 0);
    assert.ok(load.kvBlocksCached > 0);
    const metrics = await (await fetch(`http://127.0.0.1:${w.metricsPort}/metrics`)).text();
    const m = /radixserve_cache_hit_rate\{role="unified",model_name="[^"]+"\} ([0-9.e-]+)/.exec(metrics);
    assert.ok(m && Number(m[1]) > 0, "cache hit rate gauge > 0");
    assert.match(metrics, /radixserve_cached_tokens_total\{role="unified",model_name="[^"]+"\} [1-9]/);
    assert.match(
      metrics,
      /radixserve_time_to_first_token_seconds_count\{role="unified",model_name="[^"]+"\} [1-9]/,
    );
  });

  test("cancelling a stream mid-way aborts the request and frees its blocks", async () => {
    const r = await generate(
      w.client,
      { requestId: "c1", inputIds: prompt(40, 900), sampling: { ...greedy(1000), ignoreEos: true } },
      (n) => n >= 3,
    );
    assert.equal(r.cancelled, true);
    const load = await waitForLoad(
      w.client,
      (l) => l.runningRequests === 0 && l.queuedRequests === 0 && l.kvBlocksFree === l.kvBlocksTotal,
    );
    assert.equal(load.kvBlocksTotal, KV_BLOCKS);
  });

  test("Abort by id ends a running request with FINISH_REASON_ABORT; unknown ids are not an error", async () => {
    const pending = generate(w.client, {
      requestId: "ab1",
      inputIds: prompt(10),
      sampling: { ...greedy(1000), ignoreEos: true },
    });
    await waitForLoad(w.client, (l) => l.runningRequests === 1);
    const res = await unary<{ found: boolean }>((cb) => w.client.Abort({ requestId: "ab1" }, cb));
    assert.equal(res.found, true);
    const r = await pending;
    assert.equal(r.last?.finished?.reason, "FINISH_REASON_ABORT");
    assert.ok(r.tokens.length < 1000);
    const none = await unary<{ found: boolean }>((cb) => w.client.Abort({ requestId: "nope" }, cb));
    assert.equal(none.found, false);
    await waitForLoad(w.client, (l) => l.runningRequests === 0 && l.kvBlocksFree === l.kvBlocksTotal);
  });

  test("bad input answers WorkerError with the catalog code and HTTP status, and the worker keeps serving", async () => {
    const err = async (inputIds: number[], maxNewTokens: number) => {
      const r = await generate(w.client, {
        requestId: `bad-${Math.random()}`,
        inputIds,
        sampling: greedy(maxNewTokens),
      });
      assert.equal(r.events.length, 1);
      assert.equal(r.last?.event, "error");
      return r.last!.error!;
    };
    const empty = await err([], 4);
    assert.equal(empty.code, "invalid_request");
    assert.equal(empty.httpStatus, 400);
    const vocab = await err([1, 32000], 4);
    assert.equal(vocab.code, "invalid_request");
    assert.match(vocab.message, /32000/);
    const long = await err(prompt(2040), 20);
    assert.equal(long.code, "prompt_too_long");
    assert.equal(long.httpStatus, 400);
    assert.match(long.message, /2040.*20.*2048/);
    const zero = await err([1, 2], 0);
    assert.equal(zero.code, "invalid_request");
    const ok = await generate(w.client, { requestId: "after-bad", inputIds: prompt(5), sampling: greedy(2) });
    assert.equal(ok.last?.finished?.usage?.completionTokens, 2);
  });

  test("deadline_unix_ms: a request past its deadline ends with deadline_exceeded and frees its blocks", async () => {
    const late = await generate(w.client, {
      requestId: "dl0",
      inputIds: prompt(5),
      sampling: greedy(2),
      deadlineUnixMs: String(Date.now() - 1000),
    });
    assert.equal(late.last?.error?.code, "deadline_exceeded");
    const r = await generate(w.client, {
      requestId: "dl1",
      inputIds: prompt(20),
      sampling: { ...greedy(1500), ignoreEos: true },
      deadlineUnixMs: String(Date.now() + 300),
    });
    assert.equal(r.last?.error?.code, "deadline_exceeded");
    assert.equal(r.last?.error?.httpStatus, 504);
    assert.ok(r.tokens.length < 1500);
    await waitForLoad(w.client, (l) => l.runningRequests === 0 && l.kvBlocksFree === l.kvBlocksTotal);
  });

  test("a full queue answers queue_full (HTTP 429) and the rest still complete", async () => {
    const calls = Array.from({ length: 8 }, (_, i) =>
      generate(w.client, {
        requestId: `q${i}`,
        inputIds: prompt(12, 2000 + i * 50),
        sampling: { ...greedy(24), ignoreEos: true },
      }),
    );
    const results = await Promise.all(calls);
    const full = results.filter((r) => r.last?.error?.code === "queue_full");
    const done = results.filter((r) => r.last?.event === "finished");
    assert.ok(full.length >= 1, "at least one request was refused");
    assert.equal(full[0]!.last!.error!.httpStatus, 429);
    // All 8 arrive before the loop admits any: 2 fit the queue, the rest are refused.
    assert.ok(done.length >= 2, "the queued ones complete");
    assert.equal(done.length + full.length, 8);
    for (const r of done) assert.equal(r.tokens.length, 24);
    await waitForLoad(w.client, (l) => l.runningRequests === 0 && l.kvBlocksFree === l.kvBlocksTotal);
  });

  test("SIGTERM drains: running requests finish, new ones are refused (draining, 503), exit code 0", async () => {
    let signalled = false;
    const running = generate(
      w.client,
      { requestId: "drain1", inputIds: prompt(10), sampling: { ...greedy(150), ignoreEos: true } },
      () => {
        if (!signalled) {
          signalled = true;
          w.proc.kill("SIGTERM");
        }
        return false;
      },
    );
    const until = Date.now() + 10_000;
    while (!signalled && Date.now() < until) await new Promise((r) => setTimeout(r, 5));
    for (;;) {
      const h = await unary<{ status: string }>((cb) => w.client.Health({}, cb));
      if (h.status === "STATUS_DRAINING") break;
      assert.ok(Date.now() < until, "worker never reported DRAINING");
      await new Promise((r) => setTimeout(r, 5));
    }
    const refused = await generate(w.client, { requestId: "late", inputIds: prompt(5), sampling: greedy(2) });
    assert.equal(refused.last?.error?.code, "draining");
    assert.equal(refused.last?.error?.httpStatus, 503);
    const r = await running;
    assert.equal(r.tokens.length, 150, "the running request finished in full");
    assert.equal(r.last?.finished?.reason, "FINISH_REASON_LENGTH");
    assert.equal(await w.exited, 0);
  });
});

describe("worker CLI errors", () => {
  test("a bad --disagg-mode, --kv-transport rdma and --tp 4 exit non-zero with a clear message", async () => {
    const mode = await runWorkerToExit(["--model-path", modelPath, "--disagg-mode", "both"]);
    assert.equal(mode.code, 2);
    assert.match(mode.stderr, /--disagg-mode must be unified, prefill or decode/);
    const p = await runWorkerToExit([
      "--model-path",
      modelPath,
      "--disagg-mode",
      "prefill",
      "--kv-transport",
      "rdma",
    ]);
    assert.notEqual(p.code, 0);
    assert.match(p.stderr, /rdma is not built/);
    assert.equal(p.stdout, "");
    // tiny has 6 heads: --tp 2 works, --tp 4 cannot split them.
    const tp = await runWorkerToExit(["--model-path", modelPath, "--tp", "4"]);
    assert.notEqual(tp.code, 0);
    assert.match(tp.stderr, /--tp 4 does not divide num_attention_heads 6/);
    const missing = await runWorkerToExit(["--model-path", join(dir, "nope")]);
    assert.notEqual(missing.code, 0);
    assert.match(
      missing.stderr,
      /--model-path \S+nope: no such file or directory \(and not a Hugging Face model id/,
    );
    const noModel = await runWorkerToExit(["--model-path", dir]);
    assert.notEqual(noModel.code, 0);
    assert.match(noModel.stderr, /has no config.json and no .gguf file/);
    const revision = await runWorkerToExit(["--model-path", modelPath, "--revision", "main"]);
    assert.notEqual(revision.code, 0);
    assert.match(revision.stderr, /--revision applies to Hugging Face model ids/);
  });
});
