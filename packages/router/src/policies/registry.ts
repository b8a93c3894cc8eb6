/**
 * The one place routing policies are registered. A policy is chosen by configuration:
 * `--policy name` or `--policy name:knob=value,knob=value` (knobs and their ranges are listed in
 * each policy file's header and by {@link describePolicies}). Adding a policy = one new file with a
 * PolicyDefinition + one line in POLICIES below; nothing else compares policy names.
 */
import { cacheAwareDefinition } from "./cache-aware.js";
import { type PolicyDefinition, resolveKnobs } from "./knobs.js";
import { kvCostDefinition } from "./kv-cost.js";
import type { RoutingPolicy } from "./policy.js";
import { powerOfTwoDefinition } from "./power-of-two.js";
import { randomDefinition } from "./random.js";
import { roundRobinDefinition } from "./round-robin.js";

const POLICIES: ReadonlyMap<string, PolicyDefinition<RoutingPolicy>> = new Map(
  [cacheAwareDefinition, kvCostDefinition, roundRobinDefinition, randomDefinition, powerOfTwoDefinition].map(
    (d) => [d.name, d] as const,
  ),
);

/** The default of --policy (--prefill-policy and --decode-policy default to --policy). */
export const DEFAULT_POLICY = "cache_aware";

/** A parsed --policy value. */
export interface PolicyConfig {
  readonly name: string;
  readonly knobs: Readonly<Record<string, number>>;
}

export function policyNames(): string[] {
  return [...POLICIES.keys()];
}

/** One line per policy with its knobs, for --help and error messages. */
export function describePolicies(): string {
  return [...POLICIES.values()]
    .map((d) => {
      const knobs = d.knobs.map((k) => `${k.name}=[${k.min}..${k.max}] (default ${k.default})`).join(", ");
      return `${d.name}: ${d.summary}${knobs ? `; knobs: ${knobs}` : ""}`;
    })
    .join("\n");
}

/** Parses `name` or `name:knob=value,...`; throws an Error saying what is wrong and what is allowed. */
export function parsePolicySpec(spec: string): PolicyConfig {
  const text = spec.trim();
  const colon = text.indexOf(":");
  const name = colon < 0 ? text : text.slice(0, colon);
  const def = POLICIES.get(name);
  if (!def) throw new Error(`unknown routing policy '${name}' (policies: ${policyNames().join(", ")})`);
  const knobs: Record<string, number> = {};
  if (colon >= 0) {
    for (const part of text.slice(colon + 1).split(",")) {
      if (part.trim() === "") continue;
      const eq = part.indexOf("=");
      const key = eq < 0 ? part.trim() : part.slice(0, eq).trim();
      const raw = eq < 0 ? "" : part.slice(eq + 1).trim();
      const value = raw === "" ? Number.NaN : Number(raw);
      if (eq < 0 || Number.isNaN(value))
        throw new Error(`policy ${name}: '${part.trim()}' is not knob=number`);
      knobs[key] = value;
    }
  }
  resolveKnobs(name, def.knobs, knobs); // validate now, at flag time
  return Object.freeze({ name, knobs: Object.freeze(knobs) });
}

/** Builds a fresh policy instance (policies keep state, e.g. round_robin's counter: one per router). */
export function createPolicy(config: PolicyConfig | string): RoutingPolicy {
  const c = typeof config === "string" ? parsePolicySpec(config) : config;
  const def = POLICIES.get(c.name);
  if (!def) throw new Error(`unknown routing policy '${c.name}' (policies: ${policyNames().join(", ")})`);
  return def.create(resolveKnobs(c.name, def.knobs, c.knobs));
}
