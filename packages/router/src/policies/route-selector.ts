/**
 * Runs one routing decision: builds the policy's PickContext (with a lazy KV-index lookup, so
 * policies that ignore the cache never pay for it), calls pick(), records the decision in the
 * index (approximate insertion: the prompt's blocks will be on that worker) and counts it by
 * policy and reason. One selector per pick site (unified; or prefill and decode in PD mode).
 */
import { type BlockHash, chainHashes } from "@radixserve/core";
import type { KvEventFollower } from "../kv-index/kv-event-follower.js";
import type { KvIndex } from "../kv-index/kv-index.js";
import type { Pick, PickContext, RouteReason, RouteRequest, RoutingPolicy, WorkerView } from "./policy.js";

const HASH_SEED_RE = /^[0-9a-f]{16}$/;

/**
 * The chain hashes a pick routes on: the prompt's full blocks, hashed with the model's block size
 * and block_hash_seed (GetModelInfo). A worker that reports no valid seed cannot be cache-routed:
 * no hashes, so cache-aware policies fall back to load.
 */
export function promptHashes(
  model: { readonly blockHashSeed: string; readonly blockSize: number },
  inputIds: readonly number[],
): BlockHash[] {
  if (!HASH_SEED_RE.test(model.blockHashSeed) || !(model.blockSize > 0)) return [];
  return chainHashes(model.blockHashSeed, inputIds, model.blockSize);
}

export interface RouteSelectorOptions {
  policy: RoutingPolicy;
  /** The shared KV index; without it every match is 0 (cache-aware policies fall back to load). */
  index?: KvIndex | undefined;
  /** Records approximate insertions; without it (but with an index) they never expire. */
  follower?: KvEventFollower | undefined;
  /** Counts each decision (the routing-decisions metric); promptBlocks = the request's full blocks. */
  onDecision?: ((policy: string, reason: RouteReason, pick: Pick, promptBlocks: number) => void) | undefined;
  /** Whether chosen prompts are recorded as (approximately) cached on the chosen worker. Default true. */
  recordRoutes?: boolean;
}

export class RouteSelector {
  /** Reused by every select() (decisions run one at a time on the event loop). */
  private readonly matchScratch = new Map<string, number>();
  private static readonly EMPTY: ReadonlyMap<string, number> = new Map();

  constructor(private readonly opts: RouteSelectorOptions) {}

  get policyName(): string {
    return this.opts.policy.name;
  }

  /**
   * Picks among `workers` (non-empty; sorted by id here so replicas agree whatever the caller's order).
   * The request's hashes are computed once by the caller; the index lookup fills a reused map.
   */
  select(request: RouteRequest, workers: readonly WorkerView[]): Pick {
    if (workers.length === 0) throw new Error("RouteSelector.select needs at least one candidate");
    const index = this.opts.index;
    const sorted = workers.map((w) => (index ? { ...w, indexedBlocks: index.workerBlocks(w.id) } : w));
    if (!isSortedById(sorted)) sorted.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    let matches: ReadonlyMap<string, number> | null = null;
    const ctx: PickContext = {
      request,
      workers: sorted,
      matches: () => {
        matches ??=
          index && request.hashes.length > 0
            ? index.match(request.hashes, this.matchScratch)
            : RouteSelector.EMPTY;
        return matches;
      },
    };
    const pick = this.opts.policy.pick(ctx);
    if (index && this.opts.recordRoutes !== false && request.hashes.length > 0) {
      if (this.opts.follower) this.opts.follower.routed(pick.worker.id, request.hashes);
      else index.insertApproximate(pick.worker.id, request.hashes, Date.now(), Number.POSITIVE_INFINITY);
    }
    this.opts.onDecision?.(this.opts.policy.name, pick.reason, pick, request.hashes.length);
    return pick;
  }
}

function isSortedById(ws: readonly WorkerView[]): boolean {
  for (let i = 1; i < ws.length; i++) if (ws[i - 1]!.id >= ws[i]!.id) return false;
  return true;
}
