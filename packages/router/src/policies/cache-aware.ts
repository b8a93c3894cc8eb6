/**
 * cache_aware: SGLang's cache-aware routing (sgl-router `cache_aware.rs`) over the router's KV
 * index of chain hashes (../kv-index), with its known miss bug fixed.
 *
 * Algorithm, per request:
 *   1. Imbalance guard. Let max and min be the highest and lowest load (in-flight + queued) among
 *      the candidates. If max - min > balance_abs_threshold AND max > balance_rel_threshold * min,
 *      the cluster is imbalanced: pick the least loaded worker (reason "imbalance"), whatever the
 *      cache says. This keeps one hot prefix from piling every request onto one worker.
 *   2. Otherwise find the worker with the longest cached prefix of the request (blocks matched in
 *      the index; ties: less loaded, then smaller id). If matched / prompt blocks >= cache_threshold,
 *      pick it (reason "cache_hit").
 *   3. Otherwise pick the least loaded worker (reason "least_loaded"; ties: more free KV blocks,
 *      then the smaller indexed tree, then smaller id). SGLang sends a miss to the worker with the
 *      SMALLEST tree whatever its load, which piles misses onto one worker; here tree size only
 *      breaks load ties (so one-at-a-time misses still spread over idle workers).
 *   A prompt shorter than one block has no hashes: it has a ratio of 0 and goes to step 3.
 *
 * Knobs (--policy cache_aware:name=value,...):
 *   cache_threshold        in [0, 1], default 0.3. Minimum matched fraction of the prompt's blocks
 *                          for the cache to decide (a match of 0 blocks never decides).
 *                          0 = any match wins; 1 = only a full-prompt match.
 *   balance_abs_threshold  in [0, 1e9], default 32. Load gap (requests) past which the guard may
 *                          trigger. Lower = balance sooner, fewer cache hits.
 *   balance_rel_threshold  in [1, 1e9], default 1.5. The guard also needs max > rel * min.
 */
import type { Knobs, PolicyDefinition } from "./knobs.js";
import {
  leastLoaded,
  lessLoaded,
  loadOf,
  type Pick,
  type PickContext,
  type RoutingPolicy,
  type WorkerView,
} from "./policy.js";

export interface CacheAwareKnobs {
  cacheThreshold: number;
  balanceAbsThreshold: number;
  balanceRelThreshold: number;
}

export class CacheAwarePolicy implements RoutingPolicy {
  readonly name = "cache_aware";
  constructor(private readonly knobs: CacheAwareKnobs) {}

  /** True when the loads trip the imbalance guard (step 1). */
  isImbalanced(workers: readonly WorkerView[]): boolean {
    let max = Number.NEGATIVE_INFINITY;
    let min = Number.POSITIVE_INFINITY;
    for (const w of workers) {
      const l = loadOf(w);
      if (l > max) max = l;
      if (l < min) min = l;
    }
    return max - min > this.knobs.balanceAbsThreshold && max > this.knobs.balanceRelThreshold * min;
  }

  pick(ctx: PickContext): Pick {
    const { workers } = ctx;
    if (workers.length > 1 && this.isImbalanced(workers)) {
      const w = leastLoaded(workers);
      return { worker: w, reason: "imbalance", matchedBlocks: ctx.matches().get(w.id) ?? 0 };
    }
    const total = ctx.request.hashes.length;
    if (total > 0) {
      const matches = ctx.matches();
      let best: WorkerView | null = null;
      let bestLen = -1;
      for (const w of workers) {
        const len = matches.get(w.id) ?? 0;
        if (len > bestLen || (len === bestLen && best && lessLoaded(w, best))) {
          best = w;
          bestLen = len;
        }
      }
      if (best && bestLen > 0 && bestLen / total >= this.knobs.cacheThreshold)
        return { worker: best, reason: "cache_hit", matchedBlocks: bestLen };
    }
    const w = leastLoaded(workers);
    return {
      worker: w,
      reason: "least_loaded",
      matchedBlocks: total > 0 ? (ctx.matches().get(w.id) ?? 0) : 0,
    };
  }
}

export const cacheAwareDefinition: PolicyDefinition<RoutingPolicy> = {
  name: "cache_aware",
  summary: "longest cached prefix unless load is imbalanced, else least loaded (SGLang)",
  knobs: [
    { name: "cache_threshold", min: 0, max: 1, default: 0.3, help: "min matched fraction of the prompt" },
    {
      name: "balance_abs_threshold",
      min: 0,
      max: 1e9,
      default: 32,
      help: "load gap that may trip the guard",
    },
    {
      name: "balance_rel_threshold",
      min: 1,
      max: 1e9,
      default: 1.5,
      help: "guard also needs max > rel x min",
    },
  ],
  create: (k: Knobs) =>
    new CacheAwarePolicy({
      cacheThreshold: k["cache_threshold"]!,
      balanceAbsThreshold: k["balance_abs_threshold"]!,
      balanceRelThreshold: k["balance_rel_threshold"]!,
    }),
};
