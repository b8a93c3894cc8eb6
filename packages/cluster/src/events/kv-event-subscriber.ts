/**
 * The router's side of the cluster events on NATS: decodes KV event batches and load reports from
 * every worker and hands them to callbacks, and asks one worker for a snapshot of its cache
 * (request/reply). Malformed messages are counted and dropped, never thrown. Ordering and gap
 * handling are the caller's (router/src/kv-index/kv-event-follower.ts).
 */
import type { NatsConnection } from "@nats-io/transport-node";
import { getLogger } from "@radixserve/core";
import {
  type Decoded,
  decodeKvEventBatch,
  decodeKvSnapshot,
  decodeLoadReport,
  type KvEventBatch,
  type KvSnapshot,
  type LoadReport,
} from "./kv-event-types.js";
import type { NatsLink } from "./nats-link.js";
import { type EventSubjects, eventSubjects } from "./subjects.js";

const log = getLogger("events");

export interface KvEventSubscriberOptions {
  link: NatsLink;
  onBatch: (batch: KvEventBatch) => void;
  onLoad?: (report: LoadReport) => void;
  subjectPrefix?: string;
}

export class KvEventSubscriber {
  private readonly subjects: EventSubjects;
  /** Messages dropped because they did not decode. */
  malformed = 0;

  constructor(private readonly opts: KvEventSubscriberOptions) {
    this.subjects = eventSubjects(opts.subjectPrefix);
  }

  start(): void {
    this.opts.link.onConnect((nc) => this.subscribe(nc));
  }

  /** Asks `workerId` for its cache; an error value when NATS is down, the worker is silent or the reply is bad. */
  async requestSnapshot(workerId: string, timeoutMs: number): Promise<Decoded<KvSnapshot>> {
    const nc = this.opts.link.connection;
    if (!nc || !this.opts.link.connected) return { ok: false, reason: "NATS is not connected" };
    try {
      const msg = await nc.request(this.subjects.snapshot(workerId), "", { timeout: timeoutMs });
      const snap = decodeKvSnapshot(msg.data);
      if (snap.ok && snap.value.workerId !== workerId)
        return { ok: false, reason: `snapshot from ${snap.value.workerId}, asked ${workerId}` };
      return snap;
    } catch (err) {
      return { ok: false, reason: (err as Error).message };
    }
  }

  private subscribe(nc: NatsConnection): void {
    nc.subscribe(this.subjects.kvEvents, {
      callback: (err, msg) => {
        if (err) return;
        const d = decodeKvEventBatch(msg.data);
        if (d.ok) this.opts.onBatch(d.value);
        else this.drop(this.subjects.kvEvents, d.reason);
      },
    });
    const onLoad = this.opts.onLoad;
    if (onLoad) {
      nc.subscribe(this.subjects.load, {
        callback: (err, msg) => {
          if (err) return;
          const d = decodeLoadReport(msg.data);
          if (d.ok) onLoad(d.value);
          else this.drop(this.subjects.load, d.reason);
        },
      });
    }
  }

  private drop(subject: string, reason: string): void {
    this.malformed++;
    log.warn({ subject, reason }, "dropped a malformed cluster event");
  }
}
