/**
 * Everything a worker does to be part of a cluster, behind one start / stop pair, so the worker
 * process needs only a few lines:
 * - with `natsUrl`: a NatsLink and a KvEventPublisher attached to its radix cache (stored / removed
 *   blocks, snapshot replies, load reports every `loadIntervalMs`);
 * - with `redisUrl`: a WorkerRegistrar (TTL record + heartbeat; deregistered on a graceful stop).
 * Neither service being reachable stops the worker: both retry in the background.
 *
 * Order on SIGTERM (drain): deregister first (routers stop sending new requests), keep publishing
 * events while running requests finish, then close the link.
 */
import { randomUUID } from "node:crypto";
import type { RadixCache } from "@radixserve/core";
import { KvEventPublisher } from "../events/kv-event-publisher.js";
import type { LoadReport } from "../events/kv-event-types.js";
import { NatsLink } from "../events/nats-link.js";
import type { WorkerRecord } from "./worker-record.js";
import { WorkerRegistrar } from "./worker-registrar.js";

export interface WorkerClusterOptions {
  redisUrl?: string | undefined;
  natsUrl?: string | undefined;
  /** The record to register (workerId = the address routers dial). */
  record: Omit<WorkerRecord, "ttlMs" | "heartbeatAt" | "instanceId">;
  /** The worker's prefix cache, observed for KV events; null when the cache is disabled. */
  cache: RadixCache | null;
  load: () => Omit<LoadReport, "v" | "workerId" | "instanceId" | "ts">;
  /** Registration TTL. Default 5000 ms. */
  ttlMs?: number | undefined;
  /** Load report period. Default 200 ms. */
  loadIntervalMs?: number | undefined;
  keyPrefix?: string | undefined;
  subjectPrefix?: string | undefined;
}

export class WorkerClusterAgent {
  private readonly link: NatsLink | null;
  readonly publisher: KvEventPublisher | null;
  readonly registrar: WorkerRegistrar | null;

  constructor(private readonly opts: WorkerClusterOptions) {
    this.link = opts.natsUrl
      ? new NatsLink({ servers: opts.natsUrl, name: `radixserve-worker ${opts.record.workerId}` })
      : null;
    this.publisher = this.link
      ? new KvEventPublisher({
          link: this.link,
          workerId: opts.record.workerId,
          snapshot: () => opts.cache?.entries() ?? [],
          load: opts.load,
          loadIntervalMs: opts.loadIntervalMs,
          subjectPrefix: opts.subjectPrefix,
        })
      : null;
    // One instance id for both: a restarted worker is a new instance in Redis and on NATS alike.
    const instanceId = this.publisher?.instanceId ?? randomUUID();
    this.registrar = opts.redisUrl
      ? new WorkerRegistrar({
          redisUrl: opts.redisUrl,
          record: { ...opts.record, instanceId },
          ttlMs: opts.ttlMs,
          keyPrefix: opts.keyPrefix,
        })
      : null;
  }

  /** Attaches to the cache, connects (in the background) and registers. */
  async start(): Promise<void> {
    if (this.publisher) {
      this.opts.cache?.setListener(this.publisher);
      this.publisher.start();
      this.link?.start();
    }
    await this.registrar?.start();
  }

  /** Graceful leave, first step of a drain: no router should pick this worker any more. */
  async deregister(): Promise<void> {
    await this.registrar?.deregister();
  }

  /** Last step: stop publishing and close the connections. */
  async stop(): Promise<void> {
    await this.registrar?.deregister();
    this.opts.cache?.setListener(null);
    this.publisher?.close();
    await this.link?.stop();
  }
}
