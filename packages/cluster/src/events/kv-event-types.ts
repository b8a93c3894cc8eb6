/**
 * The payloads workers publish on NATS and the router reads (JSON, version 1). They mirror the
 * worker's radix cache (core/src/cache/radix-cache.ts): blocks are named by chain hash
 * (16 hex digits, core/src/cache/block-hash.ts), stored blocks carry their parent's hash.
 *
 * Ordering contract: each worker process has an `instanceId` (new at every start) and numbers its
 * batches 1, 2, 3, ... (`eventId`). A receiver that sees eventId != last + 1 for the same instance,
 * or a new instance, has missed something and must resync from a snapshot, whose `eventId` is the
 * last batch the snapshot already includes.
 *
 * decode*() validate everything: a malformed message is a value ({ ok: false, reason }), never a throw.
 */

export const EVENTS_VERSION = 1;

export interface StoredBlock {
  readonly hash: string;
  readonly parent: string | null;
}

export type KvEvent =
  | { readonly type: "stored"; readonly blocks: readonly StoredBlock[] }
  | { readonly type: "removed"; readonly hashes: readonly string[] }
  /** The worker dropped its whole cache (restart of the cache, FlushCache of everything). */
  | { readonly type: "cleared" };

export interface KvEventBatch {
  readonly v: number;
  readonly workerId: string;
  readonly instanceId: string;
  readonly eventId: number;
  readonly events: readonly KvEvent[];
}

export interface KvSnapshot {
  readonly v: number;
  readonly workerId: string;
  readonly instanceId: string;
  /** The last batch whose effects the snapshot includes (0 = none yet). */
  readonly eventId: number;
  readonly blocks: readonly StoredBlock[];
}

export interface LoadReport {
  readonly v: number;
  readonly workerId: string;
  readonly instanceId: string;
  readonly running: number;
  readonly queued: number;
  readonly kvBlocksFree: number;
  readonly kvBlocksTotal: number;
  readonly tokensPerS: number;
  /** Sender's wall clock (ms). */
  readonly ts: number;
}

export type Decoded<T> = { ok: true; value: T } | { ok: false; reason: string };

const HASH_RE = /^[0-9a-f]{16}$/;

function parse(data: Uint8Array | string): Decoded<Record<string, unknown>> {
  let v: unknown;
  try {
    v = JSON.parse(typeof data === "string" ? data : Buffer.from(data).toString("utf8"));
  } catch {
    return { ok: false, reason: "not JSON" };
  }
  if (v === null || typeof v !== "object" || Array.isArray(v)) return { ok: false, reason: "not an object" };
  const o = v as Record<string, unknown>;
  if (o["v"] !== EVENTS_VERSION) return { ok: false, reason: `unsupported version ${String(o["v"])}` };
  if (typeof o["workerId"] !== "string" || o["workerId"] === "") return { ok: false, reason: "no workerId" };
  if (typeof o["instanceId"] !== "string" || o["instanceId"] === "")
    return { ok: false, reason: "no instanceId" };
  return { ok: true, value: o };
}

function isCount(x: unknown): x is number {
  return typeof x === "number" && Number.isInteger(x) && x >= 0;
}

function blocksOf(x: unknown): StoredBlock[] | null {
  if (!Array.isArray(x)) return null;
  for (const b of x) {
    if (b === null || typeof b !== "object") return null;
    const { hash, parent } = b as Record<string, unknown>;
    if (typeof hash !== "string" || !HASH_RE.test(hash)) return null;
    if (parent !== null && (typeof parent !== "string" || !HASH_RE.test(parent))) return null;
  }
  return x as StoredBlock[];
}

function eventOf(x: unknown): KvEvent | null {
  if (x === null || typeof x !== "object") return null;
  const e = x as Record<string, unknown>;
  if (e["type"] === "stored") {
    const blocks = blocksOf(e["blocks"]);
    return blocks ? { type: "stored", blocks } : null;
  }
  if (e["type"] === "removed") {
    const h = e["hashes"];
    if (!Array.isArray(h) || !h.every((s) => typeof s === "string" && HASH_RE.test(s))) return null;
    return { type: "removed", hashes: h as string[] };
  }
  if (e["type"] === "cleared") return { type: "cleared" };
  return null;
}

export function decodeKvEventBatch(data: Uint8Array | string): Decoded<KvEventBatch> {
  const p = parse(data);
  if (!p.ok) return p;
  const o = p.value;
  if (!isCount(o["eventId"]) || o["eventId"] < 1) return { ok: false, reason: "bad eventId" };
  if (!Array.isArray(o["events"])) return { ok: false, reason: "no events" };
  const events: KvEvent[] = [];
  for (const e of o["events"]) {
    const ev = eventOf(e);
    if (!ev) return { ok: false, reason: "malformed event" };
    events.push(ev);
  }
  return { ok: true, value: { ...(o as unknown as KvEventBatch), events } };
}

export function decodeKvSnapshot(data: Uint8Array | string): Decoded<KvSnapshot> {
  const p = parse(data);
  if (!p.ok) return p;
  const o = p.value;
  if (!isCount(o["eventId"])) return { ok: false, reason: "bad eventId" };
  const blocks = blocksOf(o["blocks"]);
  if (!blocks) return { ok: false, reason: "malformed blocks" };
  return { ok: true, value: { ...(o as unknown as KvSnapshot), blocks } };
}

export function decodeLoadReport(data: Uint8Array | string): Decoded<LoadReport> {
  const p = parse(data);
  if (!p.ok) return p;
  const o = p.value;
  for (const k of ["running", "queued", "kvBlocksFree", "kvBlocksTotal"])
    if (!isCount(o[k])) return { ok: false, reason: `bad ${k}` };
  if (typeof o["tokensPerS"] !== "number" || !(o["tokensPerS"] >= 0))
    return { ok: false, reason: "bad tokensPerS" };
  if (typeof o["ts"] !== "number") return { ok: false, reason: "bad ts" };
  return { ok: true, value: o as unknown as LoadReport };
}

export function encodeJson(msg: KvEventBatch | KvSnapshot | LoadReport): string {
  return JSON.stringify(msg);
}
