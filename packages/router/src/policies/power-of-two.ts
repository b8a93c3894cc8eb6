/**
 * power_of_two: "the power of two choices". Draw two distinct candidates at random (seeded by the
 * request key) and take the less loaded (load = in-flight + queued; ties as policy.ts lessLoaded). Almost as good as least-loaded at spreading load, without every router replica
 * herding onto the same momentarily idle worker. With one candidate, that one.
 *
 * Knobs:
 *   seed  integer in [0, 2^31-1], default 0: salts the per-request draw.
 */
import type { Knobs, PolicyDefinition } from "./knobs.js";
import { lessLoaded, type Pick, type PickContext, type RoutingPolicy, requestRandom } from "./policy.js";

export class PowerOfTwoPolicy implements RoutingPolicy {
  readonly name = "power_of_two";
  constructor(private readonly seed: number) {}

  pick(ctx: PickContext): Pick {
    const n = ctx.workers.length;
    if (n === 1) return { worker: ctx.workers[0]!, reason: "power_of_two", matchedBlocks: 0 };
    const rnd = requestRandom(ctx.request.key, this.seed ^ 0x2c1b3c6d);
    const i = Math.floor(rnd() * n);
    // The second draw skips i so the two candidates differ.
    let j = Math.floor(rnd() * (n - 1));
    if (j >= i) j++;
    const a = ctx.workers[i]!;
    const b = ctx.workers[j]!;
    return { worker: lessLoaded(a, b) ? a : b, reason: "power_of_two", matchedBlocks: 0 };
  }
}

export const powerOfTwoDefinition: PolicyDefinition<RoutingPolicy> = {
  name: "power_of_two",
  summary: "less loaded of two random workers",
  knobs: [{ name: "seed", min: 0, max: 2 ** 31 - 1, default: 0, integer: true, help: "salt of the draw" }],
  create: (k: Knobs) => new PowerOfTwoPolicy(k["seed"]!),
};
