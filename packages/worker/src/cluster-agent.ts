/**
 * Joins a worker to the cluster when --redis-url / --nats-url are given: registers it in
 * Redis under its advertised address and publishes its radix cache's KV events and its load on
 * NATS (core's WorkerClusterAgent). Without either flag there is nothing to do (static
 * --worker-urls on the router). The agent never blocks serving: services that are down are
 * retried in the background.
 */

import { WorkerClusterAgent } from "@radixserve/cluster";
import type { RadixCache } from "@radixserve/core";
import type { WorkerConfig } from "./config.js";
import { loadResponse } from "./load.js";

/** The numbers a LoadReport carries, read from whichever scheduler the mode runs. */
export interface ModeLoad {
  running: number;
  queued: number;
  kvBlocksTotal: number;
  kvBlocksFree: number;
  kvBlocksEvictable: number;
}

const VERSION = "0.1.0";

export async function startClusterAgent(
  config: WorkerConfig,
  grpcPort: number,
  model: { modelId: string; blockSize: number; tpSize: number },
  cache: RadixCache | null,
  stats: () => ModeLoad,
  tokensPerS: () => number,
): Promise<WorkerClusterAgent | null> {
  if (!config.redisUrl && !config.natsUrl) return null;
  // Routers dial this address; 0.0.0.0 is not dialable, so it needs --advertise-address.
  const address =
    config.advertiseAddress ?? `${config.host === "0.0.0.0" ? "127.0.0.1" : config.host}:${grpcPort}`;
  const agent = new WorkerClusterAgent({
    redisUrl: config.redisUrl,
    natsUrl: config.natsUrl,
    ttlMs: config.discoveryTtlMs,
    cache: config.disableRadixCache ? null : cache,
    record: {
      workerId: address,
      grpcAddress: address,
      role: config.disaggMode,
      model: model.modelId,
      tpSize: model.tpSize,
      kvCapacityBlocks: stats().kvBlocksTotal,
      blockSize: model.blockSize,
      version: VERSION,
    },
    load: () => {
      const l = loadResponse(stats(), tokensPerS());
      return {
        running: l.runningRequests,
        queued: l.queuedRequests,
        kvBlocksFree: l.kvBlocksFree,
        kvBlocksTotal: l.kvBlocksTotal,
        tokensPerS: l.generationTokensPerS,
      };
    },
  });
  await agent.start();
  return agent;
}
