/**
 * kv_cost: Dynamo's KV-router cost model. Each candidate's cost for a request is
 *
 *     cost(w) = overlap_weight * (prompt blocks - blocks of the prompt cached on w)   <- prefill work
 *             + in-flight blocks on w + queued(w) * blocks of this prompt             <- decode load
 *
 * The first term is the prefill the worker would still do (the cache saves the rest); the second is
 * the KV it is already busy with: the prompt blocks of requests this router has in flight there
 * (moves at dispatch and finish) plus the worker's own queue, each queued request counted as one of
 * this size. overlap_weight trades cache reuse against spreading load: high = chase the cache,
 * 0 = pure load balancing.
 *
 * With temperature 0 the lowest cost wins (ties: less loaded, then smaller id; reason "min_cost").
 * With temperature T > 0 a worker is sampled with probability proportional to exp(-c / T), where c
 * is its cost normalized to [0, 1] across the candidates ((cost - min) / (max - min)); the draw is
 * seeded by the request key, so replicas agree (reason "sampled").
 *
 * Knobs (--policy kv_cost:name=value,...):
 *   overlap_weight  in [0, 1000], default 1 (Dynamo's). Weight of the blocks still to prefill.
 *                   Prefix-heavy traffic wants more: on bench/router/shared-prefix.ts (1k-token
 *                   shared prompts, 4 workers) weight 1 kept 53% of prompt tokens cached, weight 4
 *                   kept 78% (a single worker: 77%).
 *   temperature     in [0, 100], default 0. 0 = argmin; larger = flatter sampling.
 *   seed            integer in [0, 2^31-1], default 0: salts the sampling draw.
 */
import type { Knobs, PolicyDefinition } from "./knobs.js";
import {
  lessLoaded,
  type Pick,
  type PickContext,
  type RoutingPolicy,
  requestRandom,
  type WorkerView,
} from "./policy.js";

export interface KvCostKnobs {
  overlapWeight: number;
  temperature: number;
  seed: number;
}

export class KvCostPolicy implements RoutingPolicy {
  readonly name = "kv_cost";
  constructor(private readonly knobs: KvCostKnobs) {}

  /** Every candidate's cost, in candidate order (exported for tests and the bench). */
  costs(ctx: PickContext): number[] {
    const total = ctx.request.hashes.length;
    const matches = ctx.matches();
    return ctx.workers.map((w) => {
      const cached = Math.min(total, matches.get(w.id) ?? 0);
      const decode = w.inFlightBlocks + w.queued * Math.max(1, total);
      return this.knobs.overlapWeight * (total - cached) + decode;
    });
  }

  pick(ctx: PickContext): Pick {
    const { workers } = ctx;
    const costs = this.costs(ctx);
    const matches = ctx.matches();
    const result = (w: WorkerView, reason: Pick["reason"]): Pick => ({
      worker: w,
      reason,
      matchedBlocks: Math.min(ctx.request.hashes.length, matches.get(w.id) ?? 0),
    });
    if (this.knobs.temperature > 0 && workers.length > 1) {
      const min = Math.min(...costs);
      const span = Math.max(...costs) - min;
      const weights = costs.map((c) => Math.exp(-(span > 0 ? (c - min) / span : 0) / this.knobs.temperature));
      const sum = weights.reduce((a, b) => a + b, 0);
      let r = requestRandom(ctx.request.key, this.knobs.seed ^ 0x5bd1e995)() * sum;
      for (let i = 0; i < workers.length; i++) {
        r -= weights[i]!;
        if (r < 0) return result(workers[i]!, "sampled");
      }
      return result(workers[workers.length - 1]!, "sampled");
    }
    let best = 0;
    for (let i = 1; i < workers.length; i++) {
      const c = costs[i]!;
      const b = costs[best]!;
      if (c < b || (c === b && lessLoaded(workers[i]!, workers[best]!))) best = i;
    }
    return result(workers[best]!, "min_cost");
  }
}

export const kvCostDefinition: PolicyDefinition<RoutingPolicy> = {
  name: "kv_cost",
  summary: "lowest overlap_weight x blocks to prefill + decode load (Dynamo)",
  knobs: [
    { name: "overlap_weight", min: 0, max: 1000, default: 1, help: "weight of blocks still to prefill" },
    { name: "temperature", min: 0, max: 100, default: 0, help: "softmax sampling temperature (0 = argmin)" },
    { name: "seed", min: 0, max: 2 ** 31 - 1, default: 0, integer: true, help: "salt of the sampling draw" },
  ],
  create: (k: Knobs) =>
    new KvCostPolicy({
      overlapWeight: k["overlap_weight"]!,
      temperature: k["temperature"]!,
      seed: k["seed"]!,
    }),
};
