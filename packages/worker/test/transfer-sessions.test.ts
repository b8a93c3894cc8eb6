/**
 * The two ends of a KV transfer, without processes: D's transfer session (decode-transfer.ts:
 * reserve, open the Prefill stream, import each chunk, adopt) talks to P's session
 * (prefill-session.ts: prefill, pump chunks under a window, done) through an in-memory stream pair
 * that encodes and decodes every message with the real proto (so oneofs, defaults and bytes look
 * as they do on the wire), over the inline (grpc) medium. Both workers run the schedulers' fake
 * engine, whose sampled token hashes every token read back from its KV pool: tokens equal to one
 * unified scheduler's prove that the right bytes landed in the right blocks. Every path must end
 * with both sides' leases released.
 */
import assert from "node:assert/strict";
import { EventEmitter } from "node:events";
import { describe, test } from "node:test";
import {
  blockHashSeed,
  type GenerateRequest__Output,
  loadPrefillService,
  loadWorkerService,
  type PrefillServiceClient,
} from "@radixserve/core";
import { createKvTransport, KvTransferMetrics } from "@radixserve/kv-transfer";
import { Registry } from "prom-client";
import { startTransfer, type TransferDeps } from "../src/disagg/decode/decode-transfer.js";
import { KvReserver } from "../src/disagg/decode/kv-reserver.js";
import { PrefillScheduler } from "../src/disagg/prefill/prefill-scheduler.js";
import { handlePrefillStream } from "../src/disagg/prefill/prefill-session.js";
import { toRequestParams } from "../src/request-convert.js";
import { EngineLoop, type RequestEvent, Scheduler, type SchedulerConfig } from "../src/scheduler/index.js";
import { FakeEngine, fakeEngineConfig } from "./scheduler-fake-engine.js";

const BS = 4;
const VOCAB = 1000;
const SEED = blockHashSeed("sessions-test");

function config(): SchedulerConfig {
  return fakeEngineConfig("sessions-test");
}

const prompt = (n: number, from: number) => Array.from({ length: n }, (_, i) => 3 + ((from + i * 7) % 900));

/** A GenerateRequest as a worker receives it (through the real decoder). */
function request(id: string, inputIds: number[], maxNewTokens: number): GenerateRequest__Output {
  const m = loadWorkerService().service.Generate;
  return m.requestDeserialize(
    m.requestSerialize({ requestId: id, inputIds, sampling: { maxNewTokens, temperature: 0 } }),
  ) as GenerateRequest__Output;
}

interface Wire {
  /** Chunk messages P sent: [firstBlock, numBlocks]. */
  chunks: [number, number][];
  /** Called with each message P sends, before D sees it. */
  onServerMessage?: (m: Record<string, unknown>) => void;
}

/** A client/server stream pair of PrefillService.Prefill, every message through the proto codec. */
function streamPair(wire: Wire): { client: EventEmitter; server: EventEmitter } {
  const m = loadPrefillService().service.Prefill;
  const client = new EventEmitter() as EventEmitter & Record<string, unknown>;
  const server = new EventEmitter() as EventEmitter & Record<string, unknown>;
  let open = true;
  const later = (f: () => void) => setImmediate(() => open && f());
  client.write = (msg: object) => {
    const b = m.requestSerialize(msg as never);
    later(() => server.emit("data", m.requestDeserialize(b)));
    return true;
  };
  client.end = () => later(() => server.emit("end"));
  client.cancel = () => {
    setImmediate(() => {
      server.emit("cancelled");
      open = false;
    });
  };
  server.write = (msg: Record<string, unknown>) => {
    wire.onServerMessage?.(msg);
    const c = msg["chunk"] as { firstBlock: number; numBlocks: number } | undefined;
    if (c) wire.chunks.push([c.firstBlock, c.numBlocks]);
    const b = m.responseSerialize(msg as never);
    later(() => client.emit("data", m.responseDeserialize(b)));
    return true;
  };
  server.end = () => later(() => client.emit("end"));
  return { client, server };
}

interface Cluster {
  p: PrefillScheduler;
  d: Scheduler;
  deps: TransferDeps;
  pLive: Set<object>;
  wire: Wire;
  stop(): Promise<void>;
}

async function cluster(opts: { pSeed?: string } = {}): Promise<Cluster> {
  const pe = new FakeEngine(64, BS, VOCAB);
  const de = new FakeEngine(64, BS, VOCAB);
  const p = new PrefillScheduler(config());
  const d = new Scheduler(config());
  const pLoop = new EngineLoop(pe, p);
  const dLoop = new EngineLoop(de, d);
  pLoop.start();
  dLoop.start();
  const queues = { reservationQueue: () => 0, transfersInFlight: () => 0 };
  const pLive = new Set<object>();
  const wire: Wire = { chunks: [] };
  const pCtx = {
    scheduler: p,
    engine: pe,
    metrics: new KvTransferMetrics(new Registry(), queues),
    blockHashSeed: opts.pSeed ?? SEED,
    sessionTimeoutMs: 5000,
    live: pLive,
  };
  const client = {
    prefill() {
      const pair = streamPair(wire);
      handlePrefillStream(pCtx, pair.server as never);
      return pair.client;
    },
  } as unknown as PrefillServiceClient;
  const deps: TransferDeps = {
    scheduler: d,
    engine: de,
    reserver: new KvReserver(d, 8),
    transport: await createKvTransport("grpc"),
    metrics: new KvTransferMetrics(new Registry(), queues),
    blockHashSeed: SEED,
    settings: {
      reserveTimeoutMs: 2000,
      transferTimeoutMs: 5000,
      windowChunks: 2,
      chunkBytes: 2 * BS * 4, // two blocks per chunk
      verifyImports: true,
    },
    client: () => client,
    live: new Map(),
  };
  return {
    p,
    d,
    deps,
    pLive,
    wire,
    async stop() {
      await pLoop.stop();
      await dLoop.stop();
    },
  };
}

function collect(): { tokens: number[]; end: Promise<RequestEvent>; sink: (e: RequestEvent) => void } {
  const tokens: number[] = [];
  let done: (e: RequestEvent) => void = () => {};
  const end = new Promise<RequestEvent>((r) => {
    done = r;
  });
  return { tokens, end, sink: (e) => (e.type === "token" ? tokens.push(e.tokenId) : done(e)) };
}

/** Tokens of one unified scheduler on its own fake engine (the reference). */
async function unified(inputIds: number[], maxNewTokens: number): Promise<number[]> {
  const s = new Scheduler(config());
  const loop = new EngineLoop(new FakeEngine(64, BS, VOCAB), s);
  loop.start();
  const c = collect();
  assert.ok(s.submit({ id: "ref", inputIds, sampling: { temperature: 0 }, maxNewTokens }, c.sink).ok);
  await c.end;
  await loop.stop();
  return c.tokens;
}

async function waitFor(cond: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 500 && !cond(); i++) await new Promise((r) => setTimeout(r, 2));
  assert.ok(cond(), what);
}

/** Both sides hold no blocks for the request any more, and their books balance. */
async function assertReleased(c: Cluster): Promise<void> {
  await waitFor(() => c.pLive.size === 0 && c.deps.live.size === 0, "both sessions ended");
  await waitFor(() => c.p.kv.stats().leases === 0, "P released its job's lease");
  await waitFor(() => c.d.idle && c.d.kv.stats().leases === 0, "D released its reservation or request");
  assert.deepEqual(c.p.checkIntegrity(), []);
  assert.deepEqual(c.d.checkIntegrity(), []);
  assert.equal(c.deps.reserver.outstanding, 0);
}

/** Chunks of at most two blocks (the chunk size D asked for) covering [from, to) once, in order. */
function assertChunks(chunks: [number, number][], from: number, to: number): void {
  let next = from;
  for (const [first, n] of chunks) {
    assert.equal(first, next, `chunk at block ${first}, expected ${next}`);
    assert.ok(n >= 1 && n <= 2, `chunk of ${n} blocks`);
    next += n;
  }
  assert.equal(next, to);
}

function run(c: Cluster, id: string, ids: number[], maxNew: number) {
  const out = collect();
  const req = request(id, ids, maxNew);
  const params = toRequestParams(req);
  assert.ok(!(params instanceof Error));
  const handle = startTransfer(c.deps, params, req, c.d.kv.hashes(ids), out.sink);
  return { out, handle };
}

describe("KV transfer sessions (decode-transfer <-> prefill-session, inline medium)", () => {
  test("P's chunks land in D's reserved blocks in order and D decodes the tokens of a unified run", async () => {
    const c = await cluster();
    try {
      const ids = prompt(22, 1); // 6 blocks, the last partial
      const { out } = run(c, "r1", ids, 6);
      const end = await out.end;
      assert.equal(end.type, "finished");
      assert.deepEqual(out.tokens, await unified(ids, 6));
      assertChunks(c.wire.chunks, 0, 6);
      await assertReleased(c);
      assert.equal(c.p.kv.stats().cached, 5, "P keeps the prompt's full blocks in its prefix cache");
    } finally {
      await c.stop();
    }
  });

  test("a prefix D already caches does not travel: P is asked for the rest only", async () => {
    const c = await cluster();
    try {
      const shared = prompt(8, 50); // 2 full blocks
      const first = collect();
      assert.ok(
        c.d.submit({ id: "warm", inputIds: shared.concat([7]), sampling: {}, maxNewTokens: 1 }, first.sink)
          .ok,
      );
      await first.end;
      const ids = shared.concat(prompt(10, 300)); // 18 tokens, 5 blocks
      const { out } = run(c, "r2", ids, 4);
      assert.equal((await out.end).type, "finished");
      assert.deepEqual(out.tokens, await unified(ids, 4));
      assertChunks(c.wire.chunks, 2, 5);
      await assertReleased(c);
    } finally {
      await c.stop();
    }
  });

  test("D cancelling mid-transfer ends both sessions and frees both sides' blocks", async () => {
    const c = await cluster();
    try {
      let handle: { cancel(): void } | null = null;
      c.wire.onServerMessage = (m) => {
        if (m["chunk"]) handle?.cancel(); // cancel as soon as P sends its first chunk
      };
      const r = run(c, "r3", prompt(40, 9), 4);
      handle = r.handle;
      // The caller that cancels reports to the client itself (decode-route.ts); the session only frees.
      await assertReleased(c);
      assert.ok(c.wire.chunks.length >= 1 && c.wire.chunks.length < 5, "stopped mid-transfer");
      assert.equal(r.out.tokens.length, 0);
    } finally {
      await c.stop();
    }
  });

  test("a P that refuses the transfer (another model) fails the request and D's reservation goes back", async () => {
    const c = await cluster({ pSeed: blockHashSeed("another-model") });
    try {
      const r = run(c, "r4", prompt(12, 3), 4);
      const end = await r.out.end;
      assert.equal(end.type, "error");
      assert.match(end.type === "error" ? end.error.message : "", /model mismatch/);
      await assertReleased(c);
    } finally {
      await c.stop();
    }
  });
});
