// Owns the benchmark statistics: percentiles, latency summaries, share errors and Jain's fairness index.

export interface LatencySummary {
  count: number;
  mean: number;
  p50: number;
  p99: number;
  p999: number;
  max: number;
}

/** Nearest-rank percentile of ascending `sorted` (p in 0..1); NaN when empty. */
export function percentile(sorted: ArrayLike<number>, p: number): number {
  if (sorted.length === 0) return NaN;
  const rank = Math.ceil(p * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))]!;
}

/** Summary of a sample; every field is NaN (count 0) for an empty sample. */
export function summarize(values: ArrayLike<number>): LatencySummary {
  const sorted = Float64Array.from(values).sort();
  let sum = 0;
  for (const v of sorted) sum += v;
  const n = sorted.length;
  return {
    count: n,
    mean: n ? sum / n : NaN,
    p50: percentile(sorted, 0.5),
    p99: percentile(sorted, 0.99),
    p999: percentile(sorted, 0.999),
    max: n ? sorted[n - 1]! : NaN,
  };
}

/** Jain's fairness index (Σx)² / (n·Σx²), in [1/n, 1]; 1 means every x is equal. NaN when empty or all zero. */
export function jainIndex(xs: readonly number[]): number {
  let sum = 0;
  let squares = 0;
  for (const x of xs) {
    sum += x;
    squares += x * x;
  }
  return xs.length && squares ? (sum * sum) / (xs.length * squares) : NaN;
}

export interface ShareReport {
  /** Achieved share of the total, per tenant (sums to 1). */
  shares: number[];
  /** Entitled share w_i / Σw. */
  entitled: number[];
  /** |share / entitled − 1| per tenant. */
  errors: number[];
  maxError: number;
  /** Jain's index over share / entitled. */
  jain: number;
}

/** Compares achieved amounts (slot-seconds, transactions) with the shares weights entitle each tenant to. */
export function shareReport(achieved: readonly number[], weights: readonly number[]): ShareReport {
  if (achieved.length !== weights.length) throw new Error('shareReport: one weight per tenant');
  const total = achieved.reduce((a, b) => a + b, 0);
  const weightSum = weights.reduce((a, b) => a + b, 0);
  const shares = achieved.map((a) => (total ? a / total : NaN));
  const entitled = weights.map((w) => w / weightSum);
  const normalized = shares.map((s, i) => s / entitled[i]!);
  const errors = normalized.map((x) => Math.abs(x - 1));
  return { shares, entitled, errors, maxError: Math.max(...errors), jain: jainIndex(normalized) };
}

/** Per-window maximum share error: `perWindow[k][i]` is tenant i's amount in window k; empty windows are skipped. */
export function windowShareErrors(perWindow: readonly (readonly number[])[], weights: readonly number[]): number[] {
  return perWindow.filter((amounts) => amounts.some((a) => a > 0)).map((amounts) => shareReport(amounts, weights).maxError);
}

/** a / b, or NaN when either is missing or b is 0. */
export function ratio(a: number | undefined, b: number | undefined): number {
  return a === undefined || b === undefined || !Number.isFinite(a) || !Number.isFinite(b) || b === 0 ? NaN : a / b;
}
