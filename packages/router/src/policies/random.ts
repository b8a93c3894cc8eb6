/**
 * random: a uniformly random candidate. The draw is seeded by the request key (policy.ts
 * requestRandom) XOR the `seed` knob, so replicas agree and a run can be replayed.
 *
 * Knobs:
 *   seed  integer in [0, 2^31-1], default 0: salts the per-request draw.
 */
import type { Knobs, PolicyDefinition } from "./knobs.js";
import { type Pick, type PickContext, type RoutingPolicy, requestRandom } from "./policy.js";

export class RandomPolicy implements RoutingPolicy {
  readonly name = "random";
  constructor(private readonly seed: number) {}

  pick(ctx: PickContext): Pick {
    const rnd = requestRandom(ctx.request.key, this.seed);
    const i = Math.floor(rnd() * ctx.workers.length);
    return { worker: ctx.workers[i]!, reason: "random", matchedBlocks: 0 };
  }
}

export const randomDefinition: PolicyDefinition<RoutingPolicy> = {
  name: "random",
  summary: "uniformly random worker (seeded by the request)",
  knobs: [{ name: "seed", min: 0, max: 2 ** 31 - 1, default: 0, integer: true, help: "salt of the draw" }],
  create: (k: Knobs) => new RandomPolicy(k["seed"]!),
};
