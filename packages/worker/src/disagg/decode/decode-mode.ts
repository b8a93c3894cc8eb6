/**
 * What `--disagg-mode decode` adds to a worker: the KV transport, the reservation queue, the
 * transfer metrics, and the Generate route that pairs with the prefill worker named in each
 * request. The scheduler, engine loop and gRPC server are the unified worker's.
 */
import { createPrefillClient, type PrefillServiceClient } from "@radixserve/core";
import type { Engine } from "@radixserve/engine-native";
import { KvTransferMetrics, type KvTransport } from "@radixserve/kv-transfer";
import type { Registry } from "prom-client";
import type { WorkerConfig } from "../../config.js";
import { type GenerateRoute, submitRoute } from "../../grpc-service.js";
import type { Scheduler } from "../../scheduler/index.js";
import { createDecodeRoute } from "./decode-route.js";
import { KvReserver } from "./kv-reserver.js";

export interface DecodeMode {
  route: GenerateRoute;
  reserver: KvReserver;
  metrics: KvTransferMetrics;
  /** Transfers in progress. */
  transfers(): number;
  /** Cancels an in-progress transfer by request id (Abort); false when none. */
  abortTransfer(id: string): boolean;
  /** Call after every engine step: blocks may have been freed for waiting reservations. */
  onStep(): void;
  close(): void;
}

export async function setUpDecodeMode(
  config: WorkerConfig,
  scheduler: Scheduler,
  engine: Engine,
  registry: Registry,
  blockHashSeed: string,
  /** The worker's transport (chosen before the engine loaded: shm may have put the pool in /dev/shm). */
  transport: KvTransport,
): Promise<DecodeMode> {
  if (config.disableRadixCache)
    throw new Error(
      "--disagg-mode decode needs the radix cache (it tells the prefill worker which blocks to skip)",
    );
  const reserver = new KvReserver(scheduler, config.maxRunningRequests);
  const live = new Map<string, { cancel(): void }>();
  const quarantine = { blocks: 0 };
  const metrics = new KvTransferMetrics(registry, {
    reservationQueue: () => reserver.queued,
    transfersInFlight: () => live.size,
    quarantinedBlocks: () => quarantine.blocks,
  });
  const clients = new Map<string, PrefillServiceClient>();
  const client = (address: string): PrefillServiceClient => {
    let c = clients.get(address);
    if (!c) {
      c = createPrefillClient(address, undefined, { secret: config.clusterSecret, tls: config.clusterTls });
      clients.set(address, c);
    }
    return c;
  };
  const route = createDecodeRoute(
    {
      scheduler,
      engine,
      reserver,
      transport,
      metrics,
      blockHashSeed,
      client,
      live,
      quarantine,
      settings: {
        reserveTimeoutMs: config.kvReserveTimeoutMs,
        transferTimeoutMs: config.kvTransferTimeoutMs,
        windowChunks: config.kvWindowChunks,
        chunkBytes: config.kvChunkBytes,
        verifyImports: config.kvVerifyImports,
      },
    },
    config.disaggPrefillThreshold,
    submitRoute(scheduler),
  );
  return {
    route,
    reserver,
    metrics,
    transfers: () => live.size,
    abortTransfer(id) {
      const t = live.get(id);
      t?.cancel();
      return t !== undefined;
    },
    onStep: () => reserver.retry(),
    close() {
      for (const t of live.values()) t.cancel();
      for (const c of clients.values()) c.close();
      transport.close?.();
    },
  };
}
