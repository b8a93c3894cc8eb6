/**
 * The worker's side of discovery: SET its WorkerRecord under a key that expires after `ttlMs`,
 * renewed every `heartbeatMs` (default ttl / 3) by a fresh SET (so a Redis that restarted empty
 * gets the record back at the next beat), announce join / leave on the channel, and DEL on a
 * graceful stop (SIGTERM). Redis being down is logged once per outage, never thrown: the worker
 * keeps serving and the router keeps its last known set.
 */

import { getLogger } from "@radixserve/core";
import { Redis } from "ioredis";
import { type DiscoveryKeys, discoveryKeys, type WorkerRecord } from "./worker-record.js";

const log = getLogger("discovery");

export interface WorkerRegistrarOptions {
  redisUrl: string;
  record: Omit<WorkerRecord, "ttlMs" | "heartbeatAt">;
  /** Record lifetime without a heartbeat. Range 500..600000 ms, default 5000. */
  ttlMs?: number;
  /** Renewal period. Default ttlMs / 3. */
  heartbeatMs?: number;
  keyPrefix?: string;
}

export class WorkerRegistrar {
  private readonly redis: Redis;
  private readonly keys: DiscoveryKeys;
  private readonly ttlMs: number;
  private readonly heartbeatMs: number;
  private timer: NodeJS.Timeout | null = null;
  private healthy = true;
  private stopped = false;
  /** Successful registrations (first + renewals). */
  beats = 0;

  constructor(private readonly opts: WorkerRegistrarOptions) {
    this.ttlMs = opts.ttlMs ?? 5000;
    if (!(this.ttlMs >= 500 && this.ttlMs <= 600_000))
      throw new Error(`discovery TTL must be in [500, 600000] ms, got ${opts.ttlMs}`);
    this.heartbeatMs = opts.heartbeatMs ?? Math.max(100, Math.floor(this.ttlMs / 3));
    this.keys = discoveryKeys(opts.keyPrefix);
    this.redis = new Redis(opts.redisUrl, {
      lazyConnect: true,
      // Fail commands at once while disconnected: a heartbeat must not queue up behind an outage.
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      retryStrategy: () => 250,
    });
    this.redis.on("error", () => {}); // reported through beat() results, once per outage
  }

  /** Registers now (best effort) and starts the heartbeat. */
  async start(): Promise<void> {
    await this.redis.connect().catch(() => {});
    await this.beat(true);
    this.timer = setInterval(() => void this.beat(false), this.heartbeatMs);
    this.timer.unref();
  }

  /** Graceful leave: stop renewing, delete the record and announce it. */
  async deregister(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    const id = this.opts.record.workerId;
    try {
      await this.redis.del(this.keys.workerKey(id));
      await this.redis.publish(this.keys.channel, JSON.stringify({ type: "leave", workerId: id }));
      log.info({ workerId: id }, "deregistered from Redis");
    } catch (err) {
      log.warn(
        { workerId: id, err: (err as Error).message },
        "could not deregister; the record expires by TTL",
      );
    }
    this.redis.disconnect();
  }

  private async beat(first: boolean): Promise<void> {
    if (this.stopped) return;
    const record: WorkerRecord = { ...this.opts.record, ttlMs: this.ttlMs, heartbeatAt: Date.now() };
    try {
      const key = this.keys.workerKey(record.workerId);
      const existed = await this.redis.set(key, JSON.stringify(record), "PX", this.ttlMs, "GET");
      this.beats++;
      if (first || existed === null)
        await this.redis.publish(
          this.keys.channel,
          JSON.stringify({ type: "join", workerId: record.workerId }),
        );
      if (!this.healthy) log.info({ workerId: record.workerId }, "Redis is back: registration renewed");
      this.healthy = true;
    } catch (err) {
      if (this.healthy)
        log.warn(
          { err: (err as Error).message },
          "Redis unreachable: cannot renew registration (will retry)",
        );
      this.healthy = false;
    }
  }
}
