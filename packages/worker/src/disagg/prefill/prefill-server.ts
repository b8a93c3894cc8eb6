/**
 * The prefill worker (`--disagg-mode prefill`) as a set of gRPC handlers over one engine: the
 * PrefillService stream that decode workers open per request, and the WorkerService control
 * calls (Health, GetLoad, GetModelInfo, FlushCache, Abort). Generate is refused: a prefill worker
 * produces only the first token, so the router sends requests to a decode worker, which pairs
 * with this one. The process (flags, engine loading, servers) is the worker binary's
 * (packages/worker/src/worker.ts), which calls createPrefillServer in prefill mode.
 */

import {
  type GetModelInfoResponse,
  getLogger,
  type PrefillServiceHandlers,
  RadixServeError,
  RateMeter,
  ServingMetrics,
  type WorkerServiceHandlers,
} from "@radixserve/core";
import type { Engine } from "@radixserve/engine-native";
import { KvTransferMetrics } from "@radixserve/kv-transfer";
import { loadResponse, type WorkerStatus } from "../../load.js";
import { EngineLoop, type SchedulerConfig } from "../../scheduler/index.js";
import { PrefillScheduler } from "./prefill-scheduler.js";
import { handlePrefillStream } from "./prefill-session.js";

export interface PrefillServerOptions {
  engine: Engine;
  schedulerConfig: SchedulerConfig;
  modelInfo: GetModelInfoResponse;
  status: () => WorkerStatus;
  /** Longest one Prefill stream may live (start to done_ack). Default 60 s. */
  sessionTimeoutMs?: number;
  /** Send no block before the whole prompt is computed (the no-overlap baseline of bench/disagg). */
  sendWhenDone?: boolean;
  /** The cluster's data-plane key (ClusterSecret.kvAuthKey): tcp senders run the handshake with it. */
  kvAuthKey?: Uint8Array;
}

export interface PrefillServer {
  scheduler: PrefillScheduler;
  metrics: ServingMetrics;
  transferMetrics: KvTransferMetrics;
  workerHandlers: WorkerServiceHandlers;
  prefillHandlers: PrefillServiceHandlers;
  /** True when no job is queued or holds blocks and no stream is open. */
  idle(): boolean;
  /** Stops admitting; resolves when every session has ended. */
  drain(): Promise<void>;
  stop(): Promise<void>;
}

export function createPrefillServer(opts: PrefillServerOptions): PrefillServer {
  const scheduler = new PrefillScheduler(opts.schedulerConfig);
  const metrics = new ServingMetrics(
    "prefill",
    () => {
      const s = scheduler.stats();
      return { ...s, kvBlocksFree: s.kvBlocksFree + s.kvBlocksEvictable, preemptionsTotal: 0 };
    },
    {
      modelName: opts.modelInfo.modelId,
      // The scheduler counts what it admits and computes (the same counts as its hit rate).
      tokenTotals: () => {
        const s = scheduler.stats();
        return {
          prompt: s.promptTokensTotal,
          cached: s.cachedTokensTotal,
          generated: s.generatedTokensTotal,
        };
      },
    },
  );
  const live = new Set<object>();
  const transferMetrics = new KvTransferMetrics(metrics.registry, {
    reservationQueue: () => scheduler.stats().queued,
    transfersInFlight: () => live.size,
  });
  const promptRate = new RateMeter();
  const kvRate = new RateMeter();
  const loop = new EngineLoop(opts.engine, scheduler, getLogger("scheduler"));
  loop.start();
  const ctx = {
    scheduler,
    engine: opts.engine,
    metrics: transferMetrics,
    blockHashSeed: opts.modelInfo.blockHashSeed ?? "",
    sessionTimeoutMs: opts.sessionTimeoutMs ?? 60_000,
    live,
    sendWhenDone: opts.sendWhenDone ?? false,
    ...(opts.kvAuthKey ? { kvAuthKey: opts.kvAuthKey } : {}),
  };
  const workerHandlers: WorkerServiceHandlers = {
    Generate(call) {
      const err = new RadixServeError(
        "invalid_request",
        "this is a prefill worker (--disagg-mode prefill): send Generate to a decode worker with prefill_address set",
      );
      call.write({ requestId: call.request.requestId, error: err.toWorkerError() });
      call.end();
    },
    Abort(_call, callback) {
      // Requests are aborted by cancelling their Prefill stream (the decode worker does).
      callback(null, { found: false });
    },
    Health(_call, callback) {
      callback(null, { status: opts.status(), disaggMode: "prefill" });
    },
    GetLoad(_call, callback) {
      const s = scheduler.stats();
      const now = performance.now();
      callback(null, {
        ...loadResponse(s, 0),
        promptTokensPerS: promptRate.rate(s.promptTokensTotal, now),
        kvTransferBytesPerS: kvRate.rate(transferMetrics.bytesMoved, now),
      });
    },
    FlushCache(_call, callback) {
      callback(null, { blocksFreed: scheduler.flushCache() });
    },
    GetModelInfo(_call, callback) {
      callback(null, opts.modelInfo);
    },
  };
  const prefillHandlers: PrefillServiceHandlers = {
    Prefill(call) {
      if (opts.status() !== "STATUS_SERVING") {
        call.write({ error: new RadixServeError("draining", "prefill worker is draining").toWorkerError() });
        call.end();
        return;
      }
      handlePrefillStream(ctx, call);
    },
  };
  return {
    scheduler,
    metrics,
    transferMetrics,
    workerHandlers,
    prefillHandlers,
    idle: () => scheduler.idle && live.size === 0,
    async drain() {
      scheduler.drain();
      while (!(scheduler.idle && live.size === 0)) await new Promise((r) => setTimeout(r, 20));
      await loop.stop();
    },
    async stop() {
      scheduler.drain();
      await loop.stop();
    },
  };
}
