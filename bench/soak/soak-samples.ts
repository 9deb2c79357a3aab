// Owns the soak's memory series: sampling Sluice's RSS and V8 heap, the trend after warm-up, and a text plot.
import { readProcStat, rssMegabytes, type ProcUnits } from '../core/proc-stat.js';

export interface MemorySample {
  /** Seconds since the soak started. */
  t: number;
  rssMb: number;
  heapUsedMb: number | null;
  heapTotalMb: number | null;
  transactions: number;
}

const MB = 1024 * 1024;

/** One metric's value from a Prometheus text exposition (first series), or null. */
export function metricValue(text: string, name: string): number | null {
  const m = new RegExp(`^${name}(?:\\{[^}]*\\})? ([0-9.eE+-]+)`, 'm').exec(text);
  return m ? Number(m[1]) : null;
}

export async function sampleMemory(
  pid: number,
  units: ProcUnits,
  metricsUrl: string,
  t: number,
  transactions: number,
): Promise<MemorySample> {
  const rssMb = rssMegabytes(await readProcStat(pid), units);
  let text = '';
  try {
    text = await (await fetch(metricsUrl)).text();
  } catch {
    // No heap figures this time; RSS stands alone.
  }
  const heap = (name: string) => {
    const v = metricValue(text, name);
    return v === null ? null : v / MB;
  };
  return {
    t,
    rssMb,
    heapUsedMb: heap('sluice_nodejs_heap_size_used_bytes'),
    heapTotalMb: heap('sluice_nodejs_heap_size_total_bytes'),
    transactions,
  };
}

/** Least-squares slope of value over time, per minute; null with fewer than 3 points. */
export function slopePerMinute(points: { t: number; v: number }[]): number | null {
  if (points.length < 3) return null;
  const n = points.length;
  const mt = points.reduce((s, p) => s + p.t, 0) / n;
  const mv = points.reduce((s, p) => s + p.v, 0) / n;
  const num = points.reduce((s, p) => s + (p.t - mt) * (p.v - mv), 0);
  const den = points.reduce((s, p) => s + (p.t - mt) ** 2, 0);
  return den === 0 ? null : (num / den) * 60;
}

const BARS = '▁▂▃▄▅▆▇█';

/** A one-line plot of the values, scaled between their min and max. */
export function sparkline(values: number[]): string {
  const lo = Math.min(...values);
  const hi = Math.max(...values);
  return values.map((v) => BARS[hi === lo ? 0 : Math.round(((v - lo) / (hi - lo)) * (BARS.length - 1))]).join('');
}
