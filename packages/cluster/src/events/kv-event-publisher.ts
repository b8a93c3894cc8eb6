/**
 * The worker's side of KV events: it listens to its radix cache (RadixCacheListener), batches the
 * stored / removed blocks of one event-loop turn (or `flushMs`) into one KvEventBatch with the next
 * eventId, publishes it on NATS, answers snapshot requests with its whole cache, and publishes a
 * LoadReport every `loadIntervalMs`.
 *
 * Gaps are expected and handled by the receiver: while NATS is down a batch still takes its
 * eventId but is dropped, so the router sees the jump and resyncs from a snapshot. A snapshot is
 * answered after flushing what is pending, so its eventId covers exactly the blocks it lists.
 */
import { randomUUID } from "node:crypto";
import type { NatsConnection, Subscription } from "@nats-io/transport-node";
import type { CachedBlockRef, RadixCacheListener } from "@radixserve/core";
import { getLogger } from "@radixserve/core";
import {
  EVENTS_VERSION,
  encodeJson,
  type KvEvent,
  type KvEventBatch,
  type KvSnapshot,
  type LoadReport,
} from "./kv-event-types.js";
import type { NatsLink } from "./nats-link.js";
import { type EventSubjects, eventSubjects } from "./subjects.js";

const log = getLogger("events");

export interface KvEventPublisherOptions {
  link: NatsLink;
  /** The worker's id in the cluster: its gRPC address as the router dials it. */
  workerId: string;
  /** The whole cache, parents first (RadixCache.entries). */
  snapshot: () => readonly CachedBlockRef[];
  /** Current load numbers for the periodic LoadReport. */
  load: () => Omit<LoadReport, "v" | "workerId" | "instanceId" | "ts">;
  /** Longest a stored/removed event waits before it is published. Default 5 ms. */
  flushMs?: number;
  /** LoadReport period. Default 200 ms; 0 disables. */
  loadIntervalMs?: number;
  subjectPrefix?: string;
}

export class KvEventPublisher implements RadixCacheListener {
  readonly instanceId = randomUUID();
  private eventId = 0;
  private pending: KvEvent[] = [];
  private flushTimer: NodeJS.Timeout | null = null;
  private loadTimer: NodeJS.Timeout | null = null;
  private snapshotSub: Subscription | null = null;
  private readonly subjects: EventSubjects;
  private closed = false;
  /** Batches published / dropped because NATS was down (for tests and logs). */
  published = 0;
  dropped = 0;

  constructor(private readonly opts: KvEventPublisherOptions) {
    this.subjects = eventSubjects(opts.subjectPrefix);
  }

  /** Subscribes to snapshot requests (on every connection) and starts load reports. */
  start(): void {
    this.opts.link.onConnect((nc) => this.serveSnapshots(nc));
    const every = this.opts.loadIntervalMs ?? 200;
    if (every > 0) {
      this.loadTimer = setInterval(() => this.publishLoad(), every);
      this.loadTimer.unref();
    }
  }

  onStored(blocks: readonly CachedBlockRef[]): void {
    this.push({ type: "stored", blocks: blocks.map((b) => ({ hash: b.hash, parent: b.parent })) });
  }

  onRemoved(hashes: readonly string[]): void {
    this.push({ type: "removed", hashes: [...hashes] });
  }

  /** Publishes what is pending now (also used before answering a snapshot). */
  flush(): void {
    if (this.flushTimer) clearTimeout(this.flushTimer);
    this.flushTimer = null;
    if (this.pending.length === 0) return;
    const batch: KvEventBatch = {
      v: EVENTS_VERSION,
      workerId: this.opts.workerId,
      instanceId: this.instanceId,
      eventId: ++this.eventId,
      events: this.pending,
    };
    this.pending = [];
    this.send(this.subjects.kvEvents, encodeJson(batch));
  }

  /** Stops timers and the snapshot subscription (the link is the owner's to close). */
  close(): void {
    if (this.closed) return;
    this.flush();
    this.closed = true;
    if (this.loadTimer) clearInterval(this.loadTimer);
    this.snapshotSub?.unsubscribe();
  }

  get lastEventId(): number {
    return this.eventId;
  }

  private push(ev: KvEvent): void {
    if (this.closed) return;
    this.pending.push(ev);
    this.flushTimer ??= setTimeout(() => this.flush(), this.opts.flushMs ?? 5);
  }

  private send(subject: string, payload: string): boolean {
    const nc = this.opts.link.connection;
    if (!nc || !this.opts.link.connected) {
      this.dropped++;
      return false;
    }
    try {
      nc.publish(subject, payload);
      this.published++;
      return true;
    } catch (err) {
      this.dropped++;
      log.debug({ err: (err as Error).message }, "KV event publish failed; the router will resync");
      return false;
    }
  }

  private publishLoad(): void {
    const report: LoadReport = {
      v: EVENTS_VERSION,
      workerId: this.opts.workerId,
      instanceId: this.instanceId,
      ts: Date.now(),
      ...this.opts.load(),
    };
    this.send(this.subjects.load, encodeJson(report));
  }

  private serveSnapshots(nc: NatsConnection): void {
    this.snapshotSub = nc.subscribe(this.subjects.snapshot(this.opts.workerId), {
      callback: (err, msg) => {
        if (err || this.closed) return;
        this.flush();
        let blocks = this.opts.snapshot();
        const snap = (b: typeof blocks): KvSnapshot => ({
          v: EVENTS_VERSION,
          workerId: this.opts.workerId,
          instanceId: this.instanceId,
          eventId: this.eventId,
          blocks: b,
        });
        let payload = encodeJson(snap(blocks));
        // A reply must fit the server's max_payload (1 MiB by default, ~18k blocks). A bigger cache
        // sends its first blocks in parent-first order: whole prefixes, the rest unknown to the
        // router (fewer predicted hits, never wrong ones); later events keep it current.
        const max = (nc.info?.max_payload ?? 1024 * 1024) - 1024;
        if (payload.length > max) {
          const keep = Math.floor((blocks.length * max) / payload.length);
          log.warn({ blocks: blocks.length, sent: keep }, "KV snapshot exceeds NATS max_payload: truncated");
          blocks = blocks.slice(0, keep);
          payload = encodeJson(snap(blocks));
        }
        msg.respond(payload);
      },
    });
  }
}
