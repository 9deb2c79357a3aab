// Elastic work's own latency gradient: caps elastic slots when elastic statements run slower than their own baseline.
import { clamp, nextLimit, Reservoir } from './latency-reservoir.js';

/** Extra latency (ms) every statement is allowed, so a millisecond of jitter on a quick statement is no inflation. */
const JITTER_MS = 1;
/** A shape's baseline rises by this fraction per second at most (doubling in about 70 s), so one that really got slower is relearned, while contention lasting seconds still shows. */
const CREEP_PER_MS = 0.01 / 1000;
/** Weight of a sample in its shape's moving average: about the last 20 count, so parameters that vary average out. */
const ALPHA = 0.05;
/** A window short of samples is judged anyway after this many times its length, if it has any. */
const MAX_STRETCH = 10;

export interface ElasticGradientOptions {
  now: () => number;
  /** Bounds of the limit; at least 1, so elastic work alone always runs and keeps being measured. */
  min: number;
  max: number;
  initial: number;
  /** Shortest window (default 100 ms); a window also lasts until it has minSamples samples. */
  windowMs?: number;
  /** Samples a window needs before it is judged (default 5). */
  minSamples?: number;
  /** Percentile of a window's inflation ratios that is judged (default 0.5: CPU contention moves the median). */
  percentile?: number;
  /** Tolerated inflation before shrinking: gradient = (1+buffer)/ratio (default 0.25). */
  buffer?: number;
  /** Statement shapes whose baselines are kept, least recently seen forgotten first (default 256). */
  maxShapes?: number;
  /** Reservoir size per window (default 200). */
  maxSamplesPerWindow?: number;
  /** Elastic slots in use: the limit does not grow while under half of it is used (Gradient2's app-limited rule). */
  inFlight?: () => number;
}

/** A statement shape's moving average latency, and its baseline: the lowest that average has been (ms). */
interface Shape {
  avg: number;
  base: number;
  at: number;
}

/**
 * Each elastic statement's server-side latency is divided by its shape's baseline (the lowest its average has been),
 * so 200 ms scans and 5 ms lookups mix in one window. The windows' inflation then drives the same update as the
 * latency-sensitive gradient: L ← clamp(L·g + √L·r, min, max). CPU-bound work on C cores inflates about L/C
 * times once L > C, so the limit settles near what the server runs without queueing, before anyone else shows up.
 */
export class ElasticGradient {
  private limit: number;
  private readonly shapes = new Map<string, Shape>();
  private readonly ratios: Reservoir;
  private windowStart: number;
  /** The last judged window's inflation (its percentile of latency / baseline); null before the first. */
  private lastInflation: number | null = null;
  private readonly o: Required<Omit<ElasticGradientOptions, 'inFlight'>> & ElasticGradientOptions;

  constructor(options: ElasticGradientOptions) {
    this.o = { windowMs: 100, minSamples: 5, percentile: 0.5, buffer: 0.25, maxShapes: 256, maxSamplesPerWindow: 200, ...options };
    this.limit = clamp(this.o.initial, this.o.min, this.o.max);
    this.ratios = new Reservoir(this.o.maxSamplesPerWindow, 0x2545f491);
    this.windowStart = options.now();
  }

  get current(): number {
    return this.limit;
  }

  /** How much slower than their baselines elastic statements ran in the last judged window (1 = not at all). */
  get inflation(): number | null {
    return this.lastInflation;
  }

  /** The lowest latency seen for a shape (ms), or undefined. */
  baseline(shape: string): number | undefined {
    return this.shapes.get(shape)?.base;
  }

  /** One elastic statement of `shape` took `ms` on the server. */
  update(shape: string, ms: number): void {
    if (!(ms >= 0 && Number.isFinite(ms))) return;
    this.roll(this.o.now());
    const now = this.o.now();
    let s = this.shapes.get(shape);
    if (s === undefined) {
      if (this.shapes.size >= this.o.maxShapes) this.shapes.delete(this.shapes.keys().next().value!);
      s = { avg: ms, base: ms, at: now };
    } else {
      s.avg += ALPHA * (ms - s.avg);
      s.base = Math.min(s.avg, s.base * (1 + CREEP_PER_MS * (now - s.at)));
      s.at = now;
    }
    // Delete and set: the Map's order becomes least recently seen first, the one to forget.
    this.shapes.delete(shape);
    this.shapes.set(shape, s);
    this.ratios.add((ms + JITTER_MS) / (s.base + JITTER_MS));
  }

  /** Closes the window once it is long enough and has enough samples; no samples, no evidence, no change. */
  roll(now: number): void {
    const age = now - this.windowStart;
    if (age < this.o.windowMs) return;
    const n = this.ratios.size;
    // A window without samples restarts, so a lone sample after a quiet spell waits for company.
    if (n > 0 && n < this.o.minSamples && age < this.o.windowMs * MAX_STRETCH) return;
    this.windowStart = now;
    const inflation = this.ratios.take(this.o.percentile);
    if (inflation === null) return;
    this.lastInflation = inflation;
    let next = nextLimit(this.limit, clamp((1 + this.o.buffer) / inflation, 0.5, 1));
    if (next > this.limit && this.o.inFlight && this.o.inFlight() < this.limit / 2) next = this.limit;
    this.limit = clamp(next, this.o.min, this.o.max);
  }
}
