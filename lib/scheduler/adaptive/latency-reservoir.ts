// One window's latency samples, bounded by reservoir sampling, and the arithmetic the adaptive gradients share.

export class Reservoir {
  private samples: number[] = [];
  private seen = 0;
  private rng: number;

  constructor(
    private readonly capacity: number,
    seed = 0x9e3779b9,
  ) {
    this.rng = seed;
  }

  get size(): number {
    return this.samples.length;
  }

  add(x: number): void {
    this.seen++;
    if (this.samples.length < this.capacity) {
      this.samples.push(x);
      return;
    }
    const j = Math.floor(this.random() * this.seen);
    if (j < this.samples.length) this.samples[j] = x;
  }

  /** The window's p-th percentile (null when empty), emptying it for the next window. */
  take(p: number): number | null {
    const xs = this.samples;
    this.samples = [];
    this.seen = 0;
    return xs.length > 0 ? percentile(xs, p) : null;
  }

  /** xorshift32: deterministic and instance-local. */
  private random(): number {
    let x = this.rng;
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    this.rng = x >>> 0;
    return this.rng / 0x100000000;
  }
}

/** At this gradient (latency ~1.47× its baseline with a 10% buffer) or below, a limit stops adding its growth term. */
const GROWTH_FLOOR = 0.75;

/**
 * The next limit for a window's gradient g: L·g + √L·r, r = clamp((g − 0.75) / 0.25, 0, 1). Gradient2's
 * plain +√L would hold L at 4 however slow the server got (L = L/2 + √L at g = 0.5), which on a small
 * server is enough elastic work to saturate it; fading the growth out as latency inflates lets L settle
 * where the latency stays within about 1.3 to 1.5 times its baseline (per buffer), down to the minimum.
 */
export function nextLimit(limit: number, gradient: number): number {
  const room = clamp((gradient - GROWTH_FLOOR) / (1 - GROWTH_FLOOR), 0, 1);
  return limit * gradient + Math.sqrt(limit) * room;
}

export function clamp(x: number, lo: number, hi: number): number {
  return Math.min(hi, Math.max(lo, x));
}

function percentile(xs: number[], p: number): number {
  xs.sort((a, b) => a - b);
  return xs[Math.min(xs.length - 1, Math.max(0, Math.ceil(p * xs.length) - 1))]!;
}
