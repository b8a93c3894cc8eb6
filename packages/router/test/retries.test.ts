/**
 * The gateway's bounded retries (gateway/retry-policy.ts, gateway/choice-runner.ts) against fake
 * workers over real gRPC: the exact attempt / backoff / reason sequence, which failures are never
 * retried, no retry once a token reached the client, circuit-open waits, and load counters back at
 * 0 after every path; plus radixserve_router_retries_total through the HTTP gateway.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { RadixServeError } from "@radixserve/core";
import { type ChoiceDeps, type ChoiceEvent, runChoice } from "../src/gateway/choice-runner.js";
import { backoffMs, retryOptions, retryReasonOf } from "../src/gateway/retry-policy.js";
import { buildGateway } from "../src/gateway/server.js";
import { WorkerPool } from "../src/workers/worker-pool.js";
import { FakeCodec } from "./fake-codec.js";
import { FAKE_MODEL, type FakeWorker, SCRIPT, startFakeWorker } from "./fake-worker.js";

const spec = {
  modelId: FAKE_MODEL,
  inputIds: [104, 105],
  maxNewTokens: 3,
  sampling: { temperature: 0 },
  stops: [],
  stopTokenIds: [],
  ignoreEos: true,
  logprobs: null,
};

interface Rig {
  fakes: FakeWorker[];
  pool: WorkerPool;
  waits: number[];
  reasons: string[];
  deps: ChoiceDeps;
  inFlight(): number[];
  stop(): Promise<void>;
}

/** n fake workers; a long poll period so the pool only learns of failures from Generate itself. */
async function rig(
  n: number,
  retry: Parameters<typeof retryOptions>[0] = {},
  pollIntervalMs = 10_000,
): Promise<Rig> {
  const fakes = await Promise.all(Array.from({ length: n }, () => startFakeWorker()));
  const pool = new WorkerPool(
    fakes.map((f) => f.address),
    { pollIntervalMs },
  );
  await pool.start();
  await pool.waitHealthy(5000);
  const waits: number[] = [];
  const reasons: string[] = [];
  const deps: ChoiceDeps = {
    pool,
    codec: new FakeCodec(),
    // random() = 0: no jitter, so the waits are exactly base·2^(k−1).
    retry: retryOptions({ random: () => 0, ...retry }),
    onRetry: (reason) => reasons.push(reason),
    sleep: async (ms) => {
      waits.push(ms);
    },
  };
  return {
    fakes,
    pool,
    waits,
    reasons,
    deps,
    inFlight: () => pool.snapshot().map((w) => w.inFlight),
    stop: async () => {
      pool.stop();
      await Promise.all(fakes.map((f) => f.close()));
    },
  };
}

async function drain(deps: ChoiceDeps, signal = new AbortController().signal): Promise<ChoiceEvent[]> {
  const out: ChoiceEvent[] = [];
  for await (const ev of runChoice(deps, spec, signal)) out.push(ev);
  return out;
}

const attempts = (r: Rig) => r.fakes.map((f) => f.requests.length);

describe("gateway retries: policy", () => {
  it("backoff doubles from the base, is capped, and jitter only shortens it", () => {
    const o = retryOptions({ baseBackoffMs: 20, maxBackoffMs: 100, jitter: 0.5, random: () => 0 });
    assert.deepEqual(
      [1, 2, 3, 4, 5].map((k) => backoffMs(o, k)),
      [20, 40, 80, 100, 100],
    );
    const jittered = retryOptions({ random: () => 0.999 });
    assert.ok(backoffMs(jittered, 2) > 20 && backoffMs(jittered, 2) <= 40);
    assert.throws(() => retryOptions({ maxRetries: 11 }), /maxRetries must be an integer in \[0, 10\]/);
    assert.throws(() => retryOptions({ jitter: 2 }), /jitter must be in \[0, 1\]/);
  });

  it("only transport, draining and KV-transfer failures are retryable", () => {
    const reason = (code: ConstructorParameters<typeof RadixServeError>[0]) =>
      retryReasonOf(new RadixServeError(code, "x"));
    assert.equal(reason("no_worker"), "unavailable");
    assert.equal(reason("draining"), "draining");
    assert.equal(reason("kv_transfer_failed"), "kv_transfer_failed");
    for (const code of ["invalid_request", "prompt_too_long", "queue_full", "internal", "aborted"] as const)
      assert.equal(reason(code), null, code);
  });
});

describe("gateway retries: sequence against fake workers", () => {
  it("every worker draining: one attempt per worker, waits 20 then 40 ms, then the error", async () => {
    const r = await rig(3);
    try {
      for (const f of r.fakes) f.failWith = { code: "draining", message: "draining", httpStatus: 503 };
      await assert.rejects(
        drain(r.deps),
        (e: unknown) => e instanceof RadixServeError && e.code === "draining",
      );
      assert.deepEqual(attempts(r), [1, 1, 1], "each retry goes to another worker");
      assert.deepEqual(r.waits, [20, 40]);
      assert.deepEqual(r.reasons, ["draining", "draining"]);
      assert.deepEqual(r.inFlight(), [0, 0, 0]);
    } finally {
      await r.stop();
    }
  });

  it("--max-retries bounds the attempts (1 retry: 2 attempts of 4 workers)", async () => {
    const r = await rig(4, { maxRetries: 1, baseBackoffMs: 5 });
    try {
      for (const f of r.fakes) f.failWith = { code: "draining", message: "draining", httpStatus: 503 };
      await assert.rejects(drain(r.deps), /draining/);
      assert.equal(
        attempts(r).reduce((a, b) => a + b, 0),
        2,
      );
      assert.deepEqual(r.waits, [5]);
      assert.deepEqual(r.inFlight(), [0, 0, 0, 0]);
    } finally {
      await r.stop();
    }
  });

  it("a client error is never retried", async () => {
    const r = await rig(2);
    try {
      for (const f of r.fakes) f.failWith = { code: "invalid_request", message: "bad", httpStatus: 400 };
      await assert.rejects(
        drain(r.deps),
        (e: unknown) => e instanceof RadixServeError && e.code === "invalid_request",
      );
      assert.equal(
        attempts(r).reduce((a, b) => a + b, 0),
        1,
      );
      assert.deepEqual(r.waits, []);
      assert.deepEqual(r.inFlight(), [0, 0]);
    } finally {
      await r.stop();
    }
  });

  it("a worker killed between requests: the next request is retried on the live one", async () => {
    const r = await rig(2);
    try {
      assert.equal((await drain(r.deps)).at(-1)?.kind, "end");
      const first = r.fakes.findIndex((f) => f.requests.length === 1);
      // The pool still believes the killed worker is healthy (10 s poll) and least loaded.
      r.fakes[first]!.kill();
      for (const f of r.fakes) f.requests.length = 0;
      const killed = r.fakes[first]!;
      const live = r.fakes[1 - first]!;
      let served = 0;
      for (let i = 0; i < 3; i++) if ((await drain(r.deps)).at(-1)?.kind === "end") served++;
      assert.equal(served, 3);
      assert.equal(live.requests.length, 3);
      assert.equal(killed.requests.length, 0, "a killed server records nothing");
      assert.deepEqual(r.reasons, ["unavailable"]);
      assert.deepEqual(r.inFlight(), [0, 0]);
    } finally {
      await r.stop();
    }
  });

  it("no retry once a token was streamed: the worker dying mid-stream is the client's error", async () => {
    const r = await rig(2);
    try {
      for (const f of r.fakes) f.tokenDelayMs = 30;
      await assert.rejects(
        (async () => {
          for await (const ev of runChoice(
            r.deps,
            { ...spec, maxNewTokens: 20 },
            new AbortController().signal,
          )) {
            if (ev.kind === "delta") for (const f of r.fakes) if (f.running.size > 0) f.kill();
          }
        })(),
        (e: unknown) => e instanceof RadixServeError && e.code === "no_worker",
      );
      assert.equal(
        attempts(r).reduce((a, b) => a + b, 0),
        1,
      );
      assert.deepEqual(r.reasons, []);
      assert.deepEqual(r.inFlight(), [0, 0]);
    } finally {
      await r.stop();
    }
  });

  it("a restartable choice (non-streaming) whose worker dies after tokens restarts elsewhere after a reset", async () => {
    const r = await rig(2);
    try {
      for (const f of r.fakes) f.tokenDelayMs = 20;
      const events: ChoiceEvent[] = [];
      let killed = false;
      for await (const ev of runChoice(
        r.deps,
        { ...spec, maxNewTokens: 6, restartable: true },
        new AbortController().signal,
      )) {
        events.push(ev);
        if (ev.kind === "delta" && !killed) {
          killed = true;
          for (const f of r.fakes) if (f.running.size > 0) f.kill();
        }
      }
      const reset = events.findIndex((e) => e.kind === "reset");
      assert.ok(reset > 0, "a reset follows the tokens of the dead worker");
      const after = events.slice(reset + 1);
      const text = after.map((e) => (e.kind === "delta" ? e.text : "")).join("");
      assert.equal(text, SCRIPT.slice(0, 6), "the second worker's answer is whole, from its start");
      assert.deepEqual(r.reasons, ["unavailable"]);
      assert.equal(after.at(-1)?.kind, "end");
      assert.deepEqual(r.inFlight(), [0, 0]);
    } finally {
      await r.stop();
    }
  });

  it("a burst of failures: every worker's in-flight count is back to 0", async () => {
    const r = await rig(3, { baseBackoffMs: 1 });
    try {
      r.fakes[0]!.kill();
      r.fakes[1]!.failWith = { code: "draining", message: "draining", httpStatus: 503 };
      const results = await Promise.allSettled(Array.from({ length: 24 }, () => drain(r.deps)));
      const ok = results.filter((x) => x.status === "fulfilled").length;
      assert.equal(ok, 24, "every request ends on the one good worker within 2 retries");
      assert.equal(r.fakes[2]!.requests.length, 24);
      assert.deepEqual(r.inFlight(), [0, 0, 0]);
      // And when nobody is left: clean errors, still no leaked counts.
      r.fakes[2]!.failWith = { code: "draining", message: "draining", httpStatus: 503 };
      const bad = await Promise.allSettled(Array.from({ length: 8 }, () => drain(r.deps)));
      assert.ok(bad.every((x) => x.status === "rejected"));
      assert.deepEqual(r.inFlight(), [0, 0, 0]);
    } finally {
      await r.stop();
    }
  });

  it("a worker kept out only by its open circuit breaker is waited for (circuit_open)", async () => {
    // Real sleeps here: the breaker's 500 ms cooldown must pass during the backoff.
    const r = await rig(1, {}, 20);
    try {
      const deps: ChoiceDeps = {
        ...r.deps,
        retry: retryOptions({ maxRetries: 4, baseBackoffMs: 150, jitter: 0 }),
      };
      delete deps.sleep;
      const worker = r.pool.pick(FAKE_MODEL);
      assert.ok(worker.ok);
      r.pool.markFailed(worker.value.worker, "test: opened the breaker");
      worker.value.release();
      // The next poll heals its health; the breaker stays open for its cooldown.
      const until = Date.now() + 2000;
      while (r.pool.healthyCount() === 0 && Date.now() < until) await new Promise((x) => setTimeout(x, 10));
      assert.ok(r.pool.blockedByBreaker(FAKE_MODEL));
      assert.equal((await drain(deps)).at(-1)?.kind, "end");
      assert.ok(r.reasons.length >= 1 && r.reasons.every((x) => x === "circuit_open"), r.reasons.join());
      assert.deepEqual(r.inFlight(), [0]);
    } finally {
      await r.stop();
    }
  });

  it("a client that leaves during the backoff ends the retries at once", async () => {
    const r = await rig(2);
    try {
      for (const f of r.fakes) f.failWith = { code: "draining", message: "draining", httpStatus: 503 };
      const ac = new AbortController();
      const deps: ChoiceDeps = {
        ...r.deps,
        sleep: async () => {
          ac.abort();
        },
      };
      await assert.rejects(drain(deps, ac.signal), /draining/);
      assert.equal(
        attempts(r).reduce((a, b) => a + b, 0),
        1,
      );
      assert.deepEqual(r.inFlight(), [0, 0]);
    } finally {
      await r.stop();
    }
  });
});

/** A gateway over two fake workers that polls rarely (failures are learnt from Generate itself). */
async function gatewayOverTwo() {
  const fakes = [await startFakeWorker(), await startFakeWorker()];
  const pool = new WorkerPool(
    fakes.map((f) => f.address),
    { pollIntervalMs: 10_000 },
  );
  await pool.start();
  await pool.waitHealthy(5000);
  const { app } = await buildGateway({ pool, codec: new FakeCodec(), retry: { baseBackoffMs: 1 } });
  return { fakes, pool, app };
}

const completion = (maxTokens: number) => ({
  method: "POST" as const,
  url: "/v1/completions",
  headers: { "content-type": "application/json" },
  payload: JSON.stringify({ model: FAKE_MODEL, prompt: "hi", max_tokens: maxTokens }),
});

describe("gateway retries: HTTP and metrics", () => {
  it("a killed worker is retried and counted in radixserve_router_retries_total{reason}", async () => {
    const { fakes, pool, app } = await gatewayOverTwo();
    try {
      fakes[0]!.kill(); // ties go to the first listed worker: the next pick is the dead one
      const res = await app.inject(completion(3));
      assert.equal(res.statusCode, 200, res.body);
      assert.equal(fakes[1]!.requests.length, 1);
      const text = (await app.inject({ method: "GET", url: "/metrics" })).body;
      assert.match(text, /radixserve_router_retries_total\{reason="unavailable"[^}]*\} 1\b/);
      assert.deepEqual(
        pool.snapshot().map((w) => w.inFlight),
        [0, 0],
      );
    } finally {
      await app.close();
      pool.stop();
      await fakes[1]!.close();
    }
  });

  it("a non-streaming request whose worker dies mid-generation is answered whole by another", async () => {
    const { fakes, pool, app } = await gatewayOverTwo();
    try {
      for (const f of fakes) f.tokenDelayMs = 20;
      const pending = app.inject(completion(10));
      // Kill the worker once it has sent a few tokens.
      const until = Date.now() + 5000;
      while (!fakes.some((f) => f.running.size > 0) && Date.now() < until)
        await new Promise((r) => setTimeout(r, 5));
      await new Promise((r) => setTimeout(r, 70));
      const victim = fakes.find((f) => f.running.size > 0)!;
      victim.kill();
      const res = await pending;
      assert.equal(res.statusCode, 200, res.body);
      const body = res.json() as { choices: { text: string }[]; usage: { completion_tokens: number } };
      assert.equal(body.choices[0]!.text, SCRIPT.slice(0, 10));
      assert.equal(body.usage.completion_tokens, 10);
      assert.equal(fakes.find((f) => f !== victim)!.requests.length, 1);
      assert.deepEqual(
        pool.snapshot().map((w) => w.inFlight),
        [0, 0],
      );
    } finally {
      await app.close();
      pool.stop();
      await Promise.all(fakes.map((f) => f.close()));
    }
  });
});
