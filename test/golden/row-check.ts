/**
 * One logits row against a golden fixture row (tools/oracle writes them): the fixture's top ids and
 * probe ids within LOGIT_TOL, the row's sum and sum of squares within SUM_TOL_PER_LOGIT / SUMSQ_RTOL,
 * and the argmax where the reference's top two are clearly apart. Shared by the golden tests.
 */
import assert from "node:assert/strict";

/** Absolute logit tolerance: f32 math (bf16 weights computed in f32) in a different order. */
export const LOGIT_TOL = 1e-3;
/** Row sum over the whole vocabulary: V × this. Measured: ~7e-8 per logit on f32 CPU (14x margin). */
export const SUM_TOL_PER_LOGIT = 1e-6;
/** Relative tolerance of the row sum of squares. Measured: ~8e-7 (12x margin). */
export const SUMSQ_RTOL = 1e-5;
export interface Row {
  top: [number, number][];
  probes: number[];
  sum: number;
  sumsq: number;
  gap: number;
}

/** Worst errors seen over all rows, reported as test diagnostics (the numbers in the README). */
export const worstSeen = { logit: 0, sumPerLogit: 0, sumsqRel: 0 };

/** Compares one engine logits row with a fixture row; `where` names it in failures. */
/** The tolerances of checkRow; the defaults suit f32 models computed in a different order. */
export interface RowTolerance {
  logit: number;
  sumPerLogit: number;
  sumsqRel: number;
}

export const F32_TOLERANCE: RowTolerance = {
  logit: LOGIT_TOL,
  sumPerLogit: SUM_TOL_PER_LOGIT,
  sumsqRel: SUMSQ_RTOL,
};

export function checkRow(
  logits: Float32Array,
  ref: Row,
  probeIds: number[],
  where: string,
  stats: typeof worstSeen | null = worstSeen,
  tol: RowTolerance = F32_TOLERANCE,
): void {
  const worst = { err: 0, id: -1 };
  const check = (id: number, want: number) => {
    const err = Math.abs(logits[id]! - want);
    if (err > worst.err) Object.assign(worst, { err, id });
  };
  for (const [id, want] of ref.top) check(id, want);
  for (const [i, id] of probeIds.entries()) check(id, ref.probes[i]!);
  assert.ok(
    worst.err <= tol.logit,
    `${where}: logit of token ${worst.id} is off by ${worst.err.toExponential(2)} (tolerance ${tol.logit})`,
  );
  let sum = 0;
  let sumsq = 0;
  let argmax = 0;
  for (let i = 0; i < logits.length; i++) {
    const v = logits[i]!;
    sum += v;
    sumsq += v * v;
    if (v > logits[argmax]!) argmax = i;
  }
  if (stats) {
    stats.logit = Math.max(stats.logit, worst.err);
    stats.sumPerLogit = Math.max(stats.sumPerLogit, Math.abs(sum - ref.sum) / logits.length);
    stats.sumsqRel = Math.max(stats.sumsqRel, Math.abs(sumsq - ref.sumsq) / ref.sumsq);
  }
  const sumTol = tol.sumPerLogit * logits.length;
  assert.ok(
    Math.abs(sum - ref.sum) <= sumTol,
    `${where}: row sum ${sum} vs ${ref.sum} (tolerance ${sumTol})`,
  );
  assert.ok(
    Math.abs(sumsq - ref.sumsq) <= tol.sumsqRel * ref.sumsq,
    `${where}: row sum of squares ${sumsq} vs ${ref.sumsq} (relative tolerance ${tol.sumsqRel})`,
  );
  // The argmax is only meaningful where the reference's top two are clearly apart.
  if (ref.gap > 10 * tol.logit) assert.equal(argmax, ref.top[0]![0], `${where}: argmax`);
}
