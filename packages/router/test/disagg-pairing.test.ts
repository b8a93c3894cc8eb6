/**
 * The router's prefill/decode pairing at the gRPC seam, with in-process fake workers: Generate goes
 * to the decode worker with the prefill worker's address; a `kv_transfer_failed` before any token
 * is retried on another prefill worker (bounded); with none left the error is `no_worker`; the
 * pool never sends Generate to a prefill worker; leases are released on every path.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import * as grpc from "@grpc/grpc-js";
import {
  type GenerateRequest__Output,
  loadWorkerService,
  RadixServeError,
  type WorkerServiceHandlers,
} from "@radixserve/core";
import { Registry } from "prom-client";
import { prefillPickerFor } from "../src/disagg/prefill-picker.js";
import { type ChoiceSpec, runChoice } from "../src/gateway/choice-runner.js";
import { ClusterRouting } from "../src/policies/cluster-routing.js";
import { WorkerPool } from "../src/workers/worker-pool.js";
import { FakeCodec } from "./fake-codec.js";

interface Fake {
  address: string;
  generates: GenerateRequest__Output[];
  close(): void;
}

/** A fake worker of one role; a decode worker fails the transfer from the prefill addresses in `failFrom`. */
async function fake(role: "prefill" | "decode", failFrom: Set<string> = new Set()): Promise<Fake> {
  const generates: GenerateRequest__Output[] = [];
  const handlers: WorkerServiceHandlers = {
    Generate(call) {
      const req = call.request;
      generates.push(req);
      if (role === "prefill" || failFrom.has(req.prefillAddress)) {
        const code = role === "prefill" ? "invalid_request" : "kv_transfer_failed";
        call.write({
          requestId: req.requestId,
          error: { code, message: `${code} (${req.prefillAddress})`, httpStatus: 503 },
        });
        call.end();
        return;
      }
      call.write({ requestId: req.requestId, token: { tokenId: 72 } });
      call.write({ requestId: req.requestId, token: { tokenId: 105 } });
      call.write({
        requestId: req.requestId,
        finished: {
          reason: "FINISH_REASON_LENGTH",
          usage: { promptTokens: 3, completionTokens: 2, cachedTokens: 0 },
          matchedStopTokenId: -1,
        },
      });
      call.end();
    },
    Abort: (_c, cb) => cb(null, { found: false }),
    Health: (_c, cb) => cb(null, { status: "STATUS_SERVING", disaggMode: role }),
    GetLoad: (_c, cb) =>
      cb(null, { runningRequests: 0, queuedRequests: 0, kvBlocksFree: 100, kvBlocksTotal: 100 }),
    FlushCache: (_c, cb) => cb(null, { blocksFreed: 0 }),
    GetModelInfo: (_c, cb) =>
      cb(null, {
        modelId: "m",
        modelPath: "/fake",
        maxContextLength: 64,
        vocabSize: 256,
        blockSize: 16,
        tpSize: 1,
        disaggMode: role,
        eosTokenIds: [0],
        blockHashSeed: "00000000000000aa", // lets the --prefill-policy tests hash prompts
      }),
  };
  const server = new grpc.Server();
  server.addService(loadWorkerService().service, handlers);
  const port = await new Promise<number>((res, rej) =>
    server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (e, p) => (e ? rej(e) : res(p))),
  );
  return { address: `127.0.0.1:${port}`, generates, close: () => server.forceShutdown() };
}

const spec: ChoiceSpec = {
  modelId: "m",
  inputIds: [1, 2, 3],
  maxNewTokens: 2,
  sampling: { temperature: 0 },
  stops: [],
  stopTokenIds: [],
  ignoreEos: true,
  logprobs: null,
};

async function run(pool: WorkerPool, inputIds: number[] = spec.inputIds, reasons: string[] = []) {
  const events = [];
  const deps = { pool, codec: new FakeCodec(), onRetry: (r: string) => reasons.push(r) };
  for await (const ev of runChoice(deps, { ...spec, inputIds }, new AbortController().signal))
    events.push(ev);
  return events;
}

describe("router: prefill/decode pairing", () => {
  const failing = new Set<string>();
  let p1: Fake;
  let p2: Fake;
  let d: Fake;
  let pool: WorkerPool;

  before(async () => {
    [p1, p2] = await Promise.all([fake("prefill"), fake("prefill")]);
    d = await fake("decode", failing);
    pool = new WorkerPool([p1.address, p2.address, d.address], { pollIntervalMs: 50 });
    await pool.start();
    await pool.waitHealthy(5000);
  });

  after(() => {
    pool.stop();
    for (const f of [p1, p2, d]) f.close();
  });

  test("Generate goes to the decode worker, carrying a prefill worker's address", async () => {
    const events = await run(pool);
    assert.equal(events.at(-1)?.kind, "end");
    assert.equal(p1.generates.length + p2.generates.length, 0, "prefill workers never get Generate");
    assert.ok([p1.address, p2.address].includes(d.generates.at(-1)!.prefillAddress));
  });

  test("a failed transfer is retried on the other prefill worker", async () => {
    d.generates.length = 0;
    const first = [p1.address, p2.address].sort()[0]!;
    failing.add(first);
    try {
      const reasons: string[] = [];
      const events = await run(pool, spec.inputIds, reasons);
      assert.equal(events.at(-1)?.kind, "end");
      assert.deepEqual(reasons, ["kv_transfer_failed"]);
      assert.deepEqual(
        d.generates.map((g) => g.prefillAddress),
        [first, [p1.address, p2.address].find((a) => a !== first)],
      );
    } finally {
      failing.clear();
    }
  });

  test("with every prefill worker failing: bounded retries, then no_worker; leases released", async () => {
    d.generates.length = 0;
    failing.add(p1.address);
    failing.add(p2.address);
    try {
      await assert.rejects(run(pool), (e: unknown) => {
        assert.ok(e instanceof RadixServeError);
        assert.equal(e.code, "no_worker");
        assert.match(e.message, /No other healthy prefill worker/);
        return true;
      });
      assert.equal(d.generates.length, 2, "one attempt per prefill worker");
      // Released: the next pick sees both prefill workers with nothing in flight again.
      const a = prefillPickerFor(pool).pick("m", new Set());
      const b = prefillPickerFor(pool).pick("m", new Set([a!.address]));
      assert.ok(a && b && a.address !== b.address);
      a.release();
      b.release();
      assert.equal(
        pool.snapshot().reduce((s, w) => s + w.inFlight, 0),
        0,
      );
    } finally {
      failing.clear();
    }
  });
});

/** The decision counter's value for one (stage, policy, reason), from the registry's text. */
async function decisions(registry: Registry, stage: string, policy: string, reason: string): Promise<number> {
  const text = await registry.metrics();
  const re = new RegExp(
    `radixserve_router_routing_decisions_total\\{stage="${stage}",policy="${policy}",reason="${reason}"\\} (\\d+)`,
  );
  return Number(re.exec(text)?.[1] ?? 0);
}

describe("router: --prefill-policy and --decode-policy selection", () => {
  let p1: Fake;
  let p2: Fake;
  let d1: Fake;
  let d2: Fake;
  const stop: (() => unknown)[] = [];

  before(async () => {
    [p1, p2, d1, d2] = await Promise.all([fake("prefill"), fake("prefill"), fake("decode"), fake("decode")]);
  });
  after(async () => {
    for (const s of stop) await s();
    for (const f of [p1, p2, d1, d2]) f.close();
  });

  /** A pool wired exactly as router-main.ts wires it from the three policy flags. */
  async function pdPool(policy: string, prefillPolicy?: string, decodePolicy?: string) {
    const urls = [p1.address, p2.address, d1.address, d2.address];
    const cluster = new ClusterRouting({ policy, prefillPolicy, decodePolicy, workerUrls: urls });
    const pool = new WorkerPool(urls, {
      pollIntervalMs: 10_000,
      selector: cluster.selector,
      decodeSelector: cluster.decodeSelector,
      prefillSelector: cluster.prefillSelector,
    });
    await pool.start();
    await pool.waitHealthy(5000);
    await cluster.start(pool);
    const registry = new Registry();
    cluster.registerMetrics(registry);
    stop.push(
      () => pool.stop(),
      () => cluster.stop(),
    );
    return { pool, registry };
  }

  const prefillOf = (f: Fake[]) => f.flatMap((x) => x.generates.map((g) => g.prefillAddress));
  const clear = () => {
    for (const f of [d1, d2]) f.generates.length = 0;
  };

  test("round_robin prefill pick alternates the prefill workers in id order; decode uses its own policy", async () => {
    clear();
    const { pool, registry } = await pdPool("cache_aware", "round_robin", "power_of_two");
    const sent: string[] = [];
    for (let i = 0; i < 4; i++) {
      const before = [d1.generates.length, d2.generates.length];
      assert.equal((await run(pool)).at(-1)?.kind, "end");
      const d = d1.generates.length > before[0]! ? d1 : d2;
      sent.push(d.generates.at(-1)!.prefillAddress);
    }
    const [a, b] = [p1.address, p2.address].sort();
    assert.deepEqual(sent, [a, b, a, b]);
    assert.equal(await decisions(registry, "prefill", "round_robin", "round_robin"), 4);
    assert.equal(await decisions(registry, "unified", "cache_aware", "least_loaded"), 0, "no unified picks");
    const decode =
      (await registry.metrics()).match(/stage="decode",policy="power_of_two"[^}]*\} (\d+)/g) ?? [];
    assert.ok(decode.length > 0, "decode picks are counted under --decode-policy");
    assert.deepEqual(
      pool.snapshot().map((w) => w.inFlight),
      [0, 0, 0, 0],
    );
  });

  test("cache_aware prefill pick sends a repeated prompt to the prefill worker that computed it", async () => {
    clear();
    const { pool, registry } = await pdPool("round_robin", "cache_aware:cache_threshold=0.5");
    const promptA = Array.from({ length: 48 }, (_, i) => 1 + ((i * 7) % 200));
    const promptB = Array.from({ length: 48 }, (_, i) => 3 + ((i * 11) % 200));
    await run(pool, promptA);
    const firstA = prefillOf([d1, d2]).at(-1);
    await run(pool, promptB);
    clear();
    for (let i = 0; i < 3; i++) await run(pool, [...promptA, 250 + i]);
    assert.deepEqual(prefillOf([d1, d2]), [firstA, firstA, firstA]);
    assert.equal(await decisions(registry, "prefill", "cache_aware", "cache_hit"), 3);
    // The default for --decode-policy is --policy (round_robin here).
    assert.ok((await decisions(registry, "decode", "round_robin", "round_robin")) >= 5);
  });

  test("without --prefill-policy the prefill pick is the least loaded prefill worker", async () => {
    const pool = new WorkerPool([p1.address, p2.address, d1.address], { pollIntervalMs: 10_000 });
    stop.push(() => pool.stop());
    await pool.start();
    await pool.waitHealthy(5000);
    const picker = prefillPickerFor(pool);
    const a = picker.pick("m", new Set(), { key: "k", inputIds: [1, 2, 3] });
    const b = picker.pick("m", new Set(), { key: "k", inputIds: [1, 2, 3] });
    assert.ok(a && b);
    assert.notEqual(a.address, b.address, "the second pick avoids the busy prefill worker");
    a.release();
    b.release();
  });
});
