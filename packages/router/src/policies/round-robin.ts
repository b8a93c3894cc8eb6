/**
 * round_robin: each pick takes the next candidate in id order (a counter modulo the number of
 * candidates). Ignores load and cache; the baseline every cache-aware result is compared with.
 * Two replicas that see the same request sequence and worker set pick the same workers.
 *
 * Knobs: none.
 */
import type { PolicyDefinition } from "./knobs.js";
import type { Pick, PickContext, RoutingPolicy } from "./policy.js";

export class RoundRobinPolicy implements RoutingPolicy {
  readonly name = "round_robin";
  private next = 0;

  pick(ctx: PickContext): Pick {
    const i = this.next % ctx.workers.length;
    this.next = (this.next + 1) % 1_000_000_007;
    return { worker: ctx.workers[i]!, reason: "round_robin", matchedBlocks: 0 };
  }
}

export const roundRobinDefinition: PolicyDefinition<RoutingPolicy> = {
  name: "round_robin",
  summary: "next worker in id order",
  knobs: [],
  create: () => new RoundRobinPolicy(),
};
