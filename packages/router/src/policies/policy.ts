/**
 * The routing-policy contract (grpc-js `load-balancer.ts` / `picker.ts` shape): a policy is a small
 * object with one job, pick(), which reads an immutable snapshot of the candidate workers and
 * returns a decision with its reason. New policies are one file plus one line in ./registry.ts.
 *
 * Determinism: two router replicas that hold the same worker set, the same load counters and the
 * same KV index must make the same choice for the same request. So candidates arrive sorted by id,
 * every tie is broken by (load, then id), and any randomness comes from {@link requestRandom},
 * which is seeded by the request's key, never by Math.random().
 */
import type { BlockHash } from "@radixserve/core";

/** One candidate worker as the policy sees it: a frozen snapshot taken just before pick(). */
export interface WorkerView {
  /** Stable id (the worker's gRPC address). */
  readonly id: string;
  /** Requests this router dispatched to the worker and has not seen finish (moves at once). */
  readonly inFlight: number;
  /** Prompt blocks of those in-flight requests (the router's estimate of KV the worker is using for them). */
  readonly inFlightBlocks: number;
  /** Requests waiting in the worker's own queue (its last load report; 0 when unknown). */
  readonly queued: number;
  /** Free + evictable KV blocks (last report; 0 when unknown). */
  readonly kvBlocksFree: number;
  /** KV pool size in blocks (last report; 0 when unknown). */
  readonly kvBlocksTotal: number;
  /**
   * Blocks the router's KV index holds for the worker (its tree size; RouteSelector fills it).
   * Only a late tie-break: among equally loaded workers a new prefix goes to the smaller tree, so
   * one-at-a-time misses spread instead of all landing on the smallest id.
   */
  readonly indexedBlocks?: number;
}

/** The load every policy compares: what this router sent and is still open + what waits at the worker. */
export function loadOf(w: WorkerView): number {
  return w.inFlight + w.queued;
}

/** A routing request: its chain hashes (core/src/cache/block-hash.ts) and a key for seeded choices. */
export interface RouteRequest {
  /** Seeds any random choice; the same key gives the same choice on every replica (e.g. the request id). */
  readonly key: string;
  /** Chain hashes of the prompt's full blocks, seeded by the model's block_hash_seed. */
  readonly hashes: readonly BlockHash[];
}

export interface PickContext {
  readonly request: RouteRequest;
  /** Candidates (healthy, serving the model), sorted by id, at least one. */
  readonly workers: readonly WorkerView[];
  /**
   * Longest cached prefix (in blocks) of the request on each worker, from the router's KV index.
   * Computed on first call only (policies that ignore the cache never pay for the lookup);
   * workers with no match may be absent from the map. The map is reused by the next decision:
   * read it inside pick(), never keep it.
   */
  matches(): ReadonlyMap<string, number>;
}

/** Why a worker was chosen; the label of the routing-decision metric. */
export type RouteReason =
  | "cache_hit" // longest cached prefix, above the policy's threshold
  | "least_loaded" // no useful cache match: the least loaded worker
  | "imbalance" // the imbalance guard overrode the cache
  | "min_cost" // kv_cost: the lowest cost
  | "sampled" // kv_cost with temperature: softmax sample over costs
  | "round_robin"
  | "random"
  | "power_of_two";

export interface Pick {
  readonly worker: WorkerView;
  readonly reason: RouteReason;
  /** Blocks of the prompt the chosen worker is believed to hold (0 when the policy did not look). */
  readonly matchedBlocks: number;
}

/** A routing policy. pick() is called once per request on the hot path: it must not block or throw. */
export interface RoutingPolicy {
  /** The registry name (the --policy value). */
  readonly name: string;
  pick(ctx: PickContext): Pick;
}

/** The least loaded worker (order: {@link lessLoaded}). `workers` must be non-empty. */
export function leastLoaded(workers: readonly WorkerView[]): WorkerView {
  let best = workers[0]!;
  for (let i = 1; i < workers.length; i++) {
    const w = workers[i]!;
    if (lessLoaded(w, best)) best = w;
  }
  return best;
}

/**
 * Strict order used by every tie-break: lower load, then more free blocks, then the smaller
 * indexed tree, then the smaller id.
 */
export function lessLoaded(a: WorkerView, b: WorkerView): boolean {
  const la = loadOf(a);
  const lb = loadOf(b);
  if (la !== lb) return la < lb;
  if (a.kvBlocksFree !== b.kvBlocksFree) return a.kvBlocksFree > b.kvBlocksFree;
  const ta = a.indexedBlocks ?? 0;
  const tb = b.indexedBlocks ?? 0;
  if (ta !== tb) return ta < tb;
  return a.id < b.id;
}

/**
 * A deterministic random source for one request: mulberry32 seeded by an FNV-1a hash of `key`
 * (plus a salt so two policies on the same key draw differently). Values in [0, 1).
 */
export function requestRandom(key: string, salt = 0): () => number {
  let h = 0x811c9dc5 ^ salt;
  for (let i = 0; i < key.length; i++) {
    h ^= key.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  let s = h >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) | 0;
    let t = Math.imul(s ^ (s >>> 15), 1 | s);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
