/**
 * The router's side of discovery: follows the set of registered workers in Redis.
 *
 * - Pub/sub on the workers channel: a join or leave triggers a rescan at once (a leave of a
 *   worker that deregistered removes it at once: its key is gone).
 * - A periodic SCAN + MGET every `scanIntervalMs` is the safety net (missed messages, expired
 *   keys of killed workers).
 * - A worker is dropped when its key is gone AND no fresh heartbeat was seen for its record's TTL,
 *   or at once after a graceful leave. So a kill -9'd worker disappears within TTL + scan period
 *   of its last heartbeat, while a Redis that restarted empty does not drop anyone: the workers
 *   re-register at their next beat (TTL / 3), well inside that grace.
 * - Redis down: scans fail, the last known set is kept as is, `redisUp` turns false (emitted as
 *   "status" and logged once per outage); on reconnect every known worker gets a fresh grace.
 *
 * Events: "join" (record), "update" (record: a new instance or new fields), "leave" (workerId,
 * reason), "status" (redisUp).
 */
import { EventEmitter } from "node:events";
import { getLogger } from "@radixserve/core";
import { Redis } from "ioredis";
import { type DiscoveryKeys, discoveryKeys, parseWorkerRecord, type WorkerRecord } from "./worker-record.js";

const log = getLogger("discovery");

export interface WorkerDiscoveryOptions {
  redisUrl: string;
  /** Safety-net scan period. Range 50..60000 ms, default 1000. */
  scanIntervalMs?: number;
  keyPrefix?: string;
  /** Only follow workers this accepts (e.g. one role). Default: all. */
  filter?: (r: WorkerRecord) => boolean;
}

interface Known {
  record: WorkerRecord;
  /** Router clock (ms) when a new heartbeatAt was last seen. */
  freshAt: number;
}

export class WorkerDiscovery extends EventEmitter {
  private readonly redis: Redis;
  private readonly sub: Redis;
  private readonly keys: DiscoveryKeys;
  private readonly scanIntervalMs: number;
  private readonly known = new Map<string, Known>();
  private timer: NodeJS.Timeout | null = null;
  private scanning: Promise<void> | null = null;
  private rescan = false;
  private up = true;
  private stopped = false;
  /** Completed scans (tests wait on it). */
  scans = 0;

  constructor(private readonly opts: WorkerDiscoveryOptions) {
    super();
    this.scanIntervalMs = opts.scanIntervalMs ?? 1000;
    if (!(this.scanIntervalMs >= 50 && this.scanIntervalMs <= 60_000))
      throw new Error(`discovery scan interval must be in [50, 60000] ms, got ${opts.scanIntervalMs}`);
    this.keys = discoveryKeys(opts.keyPrefix);
    const common = {
      lazyConnect: true,
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      retryStrategy: () => 250,
    };
    this.redis = new Redis(opts.redisUrl, common);
    // The subscriber needs the offline queue: ioredis re-subscribes through it after a reconnect.
    this.sub = new Redis(opts.redisUrl, { ...common, enableOfflineQueue: true, maxRetriesPerRequest: null });
    this.redis.on("error", () => {});
    this.sub.on("error", () => {});
    this.sub.on("message", (_channel: string, message: string) => this.onMessage(message));
    this.redis.on("ready", () => {
      if (this.up || this.stopped) return;
      // Back from an outage: nobody renewed while we could not see; give everyone a fresh grace.
      const now = Date.now();
      for (const k of this.known.values()) k.freshAt = now;
      void this.refresh();
    });
  }

  /** True while the last scan reached Redis. */
  get redisUp(): boolean {
    return this.up;
  }

  /** The workers currently believed alive, by id. */
  workers(): WorkerRecord[] {
    return [...this.known.values()].map((k) => k.record).sort((a, b) => (a.workerId < b.workerId ? -1 : 1));
  }

  /** Connects, scans once (so start() returns with the current set when Redis is up) and starts following. */
  async start(): Promise<void> {
    await Promise.all([this.redis.connect().catch(() => {}), this.sub.connect().catch(() => {})]);
    this.sub.subscribe(this.keys.channel).catch(() => {});
    await this.refresh();
    this.timer = setInterval(() => void this.refresh(), this.scanIntervalMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    await this.scanning?.catch(() => {});
    this.redis.disconnect();
    this.sub.disconnect();
  }

  /** Scans now (coalesced with a scan in progress). */
  refresh(): Promise<void> {
    if (this.scanning) {
      this.rescan = true;
      return this.scanning;
    }
    this.scanning = (async () => {
      try {
        do {
          this.rescan = false;
          await this.scanOnce();
        } while (this.rescan && !this.stopped);
      } finally {
        this.scanning = null;
      }
    })();
    return this.scanning;
  }

  private onMessage(message: string): void {
    let m: { type?: string; workerId?: string };
    try {
      m = JSON.parse(message) as typeof m;
    } catch {
      return;
    }
    if (m.type === "leave" && typeof m.workerId === "string") this.drop(m.workerId, "deregistered");
    void this.refresh();
  }

  private async scanOnce(): Promise<void> {
    if (this.stopped) return;
    let found: WorkerRecord[];
    try {
      found = await this.readAll();
    } catch (err) {
      this.setUp(false, (err as Error).message);
      return;
    }
    this.setUp(true);
    this.scans++;
    const now = Date.now();
    const seen = new Set<string>();
    for (const r of found) {
      if (this.opts.filter && !this.opts.filter(r)) continue;
      seen.add(r.workerId);
      const k = this.known.get(r.workerId);
      if (!k) {
        this.known.set(r.workerId, { record: r, freshAt: now });
        log.info({ workerId: r.workerId, role: r.role, model: r.model }, "worker joined");
        this.emit("join", r);
      } else {
        if (k.record.heartbeatAt !== r.heartbeatAt) k.freshAt = now;
        const changed = k.record.instanceId !== r.instanceId;
        k.record = r;
        if (changed) this.emit("update", r);
      }
    }
    for (const [id, k] of this.known) {
      if (!seen.has(id) && now - k.freshAt > k.record.ttlMs) this.drop(id, "expired");
    }
  }

  private async readAll(): Promise<WorkerRecord[]> {
    const keys: string[] = [];
    let cursor = "0";
    do {
      const [next, batch] = await this.redis.scan(cursor, "MATCH", this.keys.workerPattern, "COUNT", 200);
      cursor = next;
      keys.push(...batch);
    } while (cursor !== "0");
    if (keys.length === 0) return [];
    const values = await this.redis.mget(...keys);
    const out: WorkerRecord[] = [];
    for (const v of values) {
      const r = parseWorkerRecord(v);
      if (r) out.push(r);
    }
    return out;
  }

  private drop(workerId: string, reason: string): void {
    if (!this.known.delete(workerId)) return;
    log.info({ workerId, reason }, "worker left");
    this.emit("leave", workerId, reason);
  }

  private setUp(up: boolean, why?: string): void {
    if (this.up === up) return;
    this.up = up;
    if (up) log.info("Redis reachable again: following the worker set");
    else
      log.warn(
        { err: why, workers: this.known.size },
        "Redis unreachable: keeping the last known worker set",
      );
    this.emit("status", up);
  }
}
