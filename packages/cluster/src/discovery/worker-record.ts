/**
 * What a worker registers about itself in Redis (JSON under `<prefix>:worker:<id>`, with a TTL its
 * heartbeat renews), and the key / channel names both sides use.
 *
 *   <prefix>:worker:<workerId>   WorkerRecord JSON, expires after ttlMs unless renewed
 *   <prefix>:workers             pub/sub channel: {"type":"join"|"leave","workerId":...}
 */

export const DEFAULT_KEY_PREFIX = "radixserve";

export type WorkerRole = "unified" | "prefill" | "decode";

export interface WorkerRecord {
  /** The worker's id in the cluster = its gRPC address as routers dial it ("host:port"). */
  readonly workerId: string;
  readonly role: WorkerRole;
  /** Served model id (what /v1/models lists). */
  readonly model: string;
  readonly grpcAddress: string;
  readonly tpSize: number;
  /** KV pool size in blocks. */
  readonly kvCapacityBlocks: number;
  readonly blockSize: number;
  /** RadixServe version of the worker. */
  readonly version: string;
  /** Random per process start (a restarted worker on the same address is a new instance). */
  readonly instanceId: string;
  /** How long the record lives without a heartbeat (ms). */
  readonly ttlMs: number;
  /** Sender's wall clock at the last heartbeat (ms): changes on every renewal. */
  readonly heartbeatAt: number;
}

export interface DiscoveryKeys {
  workerKey(workerId: string): string;
  readonly workerPattern: string;
  readonly channel: string;
}

export function discoveryKeys(prefix = DEFAULT_KEY_PREFIX): DiscoveryKeys {
  if (!/^[A-Za-z0-9_.-]+$/.test(prefix))
    throw new Error(`Redis key prefix '${prefix}' must be [A-Za-z0-9_.-]+`);
  return Object.freeze({
    workerKey: (id: string) => `${prefix}:worker:${id}`,
    workerPattern: `${prefix}:worker:*`,
    channel: `${prefix}:workers`,
  });
}

const ROLES = new Set(["unified", "prefill", "decode"]);

/** Parses a stored record; null when it is not one (a foreign or corrupt key is skipped, not fatal). */
export function parseWorkerRecord(text: string | null): WorkerRecord | null {
  if (text === null) return null;
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return null;
  }
  if (v === null || typeof v !== "object") return null;
  const r = v as Record<string, unknown>;
  const str = (k: string) => typeof r[k] === "string" && r[k] !== "";
  const int = (k: string) => typeof r[k] === "number" && Number.isInteger(r[k]) && (r[k] as number) >= 0;
  if (!["workerId", "model", "grpcAddress", "version", "instanceId"].every(str)) return null;
  if (!["tpSize", "kvCapacityBlocks", "blockSize", "ttlMs", "heartbeatAt"].every(int)) return null;
  if (!ROLES.has(r["role"] as string)) return null;
  return r as unknown as WorkerRecord;
}
