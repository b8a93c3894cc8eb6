/**
 * The workers' step profile over one benchmark run: the step-loop counters of each worker's
 * /metrics (radixserve_step_*) read before and after, summed over workers, differenced.
 */
import { STEP_METRIC_NAMES } from "@radixserve/core";

/** Counter values by series text (`name{labels}`), summed over every URL. */
export type Scrape = Map<string, number>;

const WANTED = [
  STEP_METRIC_NAMES.stepPhaseSecondsTotal,
  STEP_METRIC_NAMES.stepTokensTotal,
  STEP_METRIC_NAMES.stepsTotal,
  `${STEP_METRIC_NAMES.stepSeconds}_sum`,
  `${STEP_METRIC_NAMES.stepSeconds}_count`,
];

export async function scrapeSteps(urls: readonly string[]): Promise<Scrape> {
  const out: Scrape = new Map();
  for (const url of urls) {
    const text = await (await fetch(url)).text();
    for (const line of text.split("\n")) {
      if (!WANTED.some((w) => line.startsWith(w))) continue;
      // name{labels} value: drop the labels every series carries (role, model_name).
      const m = /^([a-z_]+)(?:\{(.*)\})? ([0-9.eE+-]+)$/.exec(line);
      if (!m) continue;
      const own = (m[2] ?? "")
        .split(",")
        .filter((l) => /^(phase|kind|mix)=/.test(l))
        .join(",");
      const key = own ? `${m[1]}{${own}}` : m[1]!;
      out.set(key, (out.get(key) ?? 0) + Number(m[3]));
    }
  }
  return out;
}

export interface StepProfile {
  steps: number;
  meanStepMs: number;
  tokensPerStep: number;
  prefillTokens: number;
  decodeTokens: number;
  /** Steps by mix: prefill only, decode only, both. */
  mix: Record<"prefill" | "decode" | "mixed", number>;
  /** Shares of the loop's wall time (idle + schedule + engine + post = 1); prepare / engine apart. */
  shares: Record<"idle" | "schedule" | "engine" | "post", number>;
  prepareOfEngine: number;
}

export function stepProfile(before: Scrape, after: Scrape): StepProfile {
  const d = (k: string) => (after.get(k) ?? 0) - (before.get(k) ?? 0);
  const phase = (p: string) => d(`${STEP_METRIC_NAMES.stepPhaseSecondsTotal}{phase="${p}"}`);
  const steps = d(`${STEP_METRIC_NAMES.stepSeconds}_count`);
  const prefillTokens = d(`${STEP_METRIC_NAMES.stepTokensTotal}{kind="prefill"}`);
  const decodeTokens = d(`${STEP_METRIC_NAMES.stepTokensTotal}{kind="decode"}`);
  const wall = phase("idle") + phase("schedule") + phase("engine") + phase("post");
  const share = (p: string) => (wall > 0 ? phase(p) / wall : 0);
  const mix = (m: string) => d(`${STEP_METRIC_NAMES.stepsTotal}{mix="${m}"}`);
  return {
    steps,
    meanStepMs: steps > 0 ? (1000 * d(`${STEP_METRIC_NAMES.stepSeconds}_sum`)) / steps : 0,
    tokensPerStep: steps > 0 ? (prefillTokens + decodeTokens) / steps : 0,
    prefillTokens,
    decodeTokens,
    mix: { prefill: mix("prefill"), decode: mix("decode"), mixed: mix("mixed") },
    shares: {
      idle: share("idle"),
      schedule: share("schedule"),
      engine: share("engine"),
      post: share("post"),
    },
    prepareOfEngine: phase("engine") > 0 ? phase("prepare") / phase("engine") : 0,
  };
}
