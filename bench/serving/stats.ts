/** Summary statistics of the benchmark (SGLang's bench_serving conventions: mean, median, p99). */

export interface Dist {
  mean: number;
  p50: number;
  p99: number;
}

export function quantile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return Number.NaN;
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (pos - lo);
}

export function dist(values: readonly number[]): Dist {
  const sorted = [...values].sort((a, b) => a - b);
  const mean = sorted.length === 0 ? Number.NaN : sorted.reduce((a, b) => a + b, 0) / sorted.length;
  return { mean, p50: quantile(sorted, 0.5), p99: quantile(sorted, 0.99) };
}
