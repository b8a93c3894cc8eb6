/**
 * The serving profile of a worker's step loop, as Prometheus series on the worker's registry
 * (names in core's metrics catalog; `role` and `model_name` labels from the registry):
 *
 *   radixserve_step_seconds              histogram  one step, schedule to end of post-processing
 *   radixserve_step_idle_seconds         histogram  gap before a step (no work, or I/O between steps)
 *   radixserve_step_phase_seconds_total  counter    {phase: idle|schedule|engine|prepare|post}
 *   radixserve_step_tokens               histogram  tokens run per step (prefill + decode)
 *   radixserve_step_tokens_total         counter    {kind: prefill|decode}
 *   radixserve_steps_total               counter    {mix: prefill|decode|mixed}
 *
 * Prefill and decode tokens are the scheduler's (a prompt's last single token runs decode-shaped
 * and counts as decode). `prepare` overlaps `engine` (it runs on the JS thread while the native
 * step runs), so the phase shares of wall time are idle + schedule + engine + post; prepare says
 * how much of the engine's time the JS thread used to get the next batch ready.
 */
import { STEP_METRIC_NAMES } from "@radixserve/core";
import { Counter, Histogram, type Registry } from "prom-client";
import type { StepTiming } from "./engine-loop.js";

const STEP_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12];
const TOKEN_BUCKETS = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096];

export type StepPhase = keyof StepTiming;
export const STEP_PHASES: readonly StepPhase[] = ["idle", "schedule", "engine", "prepare", "post"];

/** What one step ran: its sequences and tokens, prefill (prompt chunks) and decode (as scheduled). */
export interface StepShape {
  readonly steps: readonly unknown[];
  readonly numPrefillTokens: number;
  readonly numDecodeTokens: number;
}

export class StepMetrics {
  private readonly step: Histogram;
  private readonly idle: Histogram;
  private readonly phase: Counter<"phase">;
  private readonly tokens: Histogram;
  private readonly tokensByKind: Counter<"kind">;
  private readonly steps: Counter<"mix">;

  constructor(registry: Registry) {
    const registers = [registry];
    this.step = new Histogram({
      name: STEP_METRIC_NAMES.stepSeconds,
      help: "Wall time of one engine-loop step (schedule, native step, post-processing)",
      buckets: STEP_BUCKETS,
      registers,
    });
    this.idle = new Histogram({
      name: STEP_METRIC_NAMES.stepIdleSeconds,
      help: "Gap before a step: waiting for work or yielding to I/O since the previous step ended",
      buckets: STEP_BUCKETS,
      registers,
    });
    this.phase = new Counter({
      name: STEP_METRIC_NAMES.stepPhaseSecondsTotal,
      help: "Step-loop time by phase (prepare overlaps engine)",
      labelNames: ["phase"],
      registers,
    });
    this.tokens = new Histogram({
      name: STEP_METRIC_NAMES.stepTokens,
      help: "Tokens run per step (prefill chunks + decodes)",
      buckets: TOKEN_BUCKETS,
      registers,
    });
    this.tokensByKind = new Counter({
      name: STEP_METRIC_NAMES.stepTokensTotal,
      help: "Tokens run by the engine, by kind",
      labelNames: ["kind"],
      registers,
    });
    this.steps = new Counter({
      name: STEP_METRIC_NAMES.stepsTotal,
      help: "Engine steps by mix: prefill only, decode only, or both",
      labelNames: ["mix"],
      registers,
    });
    for (const p of STEP_PHASES) this.phase.inc({ phase: p }, 0);
    for (const k of ["prefill", "decode"]) this.tokensByKind.inc({ kind: k }, 0);
    for (const m of ["prefill", "decode", "mixed"]) this.steps.inc({ mix: m }, 0);
  }

  /** Records one step (the engine loop's onStep). */
  observe(shape: StepShape, seconds: number, timing: StepTiming): void {
    this.step.observe(seconds);
    this.idle.observe(timing.idle);
    for (const p of STEP_PHASES) this.phase.inc({ phase: p }, timing[p]);
    const prefill = shape.numPrefillTokens;
    const decode = shape.numDecodeTokens;
    this.tokens.observe(prefill + decode);
    if (prefill > 0) this.tokensByKind.inc({ kind: "prefill" }, prefill);
    if (decode > 0) this.tokensByKind.inc({ kind: "decode" }, decode);
    const mix = prefill > 0 ? (decode > 0 ? "mixed" : "prefill") : "decode";
    this.steps.inc({ mix });
  }
}
