// Adaptive elastic budget (Gradient2/Envoy style): shrinks the slots elastic classes may use when OLTP latency rises.
import type { ElasticBudget } from './scheduler-types.js';

/** At this gradient (latency ~1.47× its baseline) or below, the budget stops adding its growth term. */
const GROWTH_FLOOR = 0.75;
/** Latency-sensitive work absent this long and then back gets a probe before its latencies count. */
const QUIET_MS = 1000;
/** A window short of samples is extended at most this many times its length before it is judged anyway. */
const MAX_STRETCH = 10;

export interface AdaptiveLimitOptions {
  now: () => number;
  /** Bounds of the elastic budget E (e.g. min 1, max N − H). */
  min: number;
  max: number;
  /** Starting budget; defaults to min, so elastic work ramps up only once latency is seen to be fine. */
  initial?: number;
  /** Sample window (default 100 ms); one limit update per window. */
  windowMs?: number;
  /** Latency percentile of a window compared with minRTT (default 0.9). */
  percentile?: number;
  /** Tolerated latency inflation before shrinking: gradient = minRTT·(1+buffer)/sample (default 0.1). */
  buffer?: number;
  /** Windows with fewer samples are extended until they have enough (default 5). */
  minSamples?: number;
  /** Reservoir size per window, bounding memory (default 1000). */
  maxSamplesPerWindow?: number;
  /** Re-measure minRTT this often with the budget at min (default 60 s; 0 disables). Like Envoy. */
  probeIntervalMs?: number;
  /** How long a probe holds the budget at min (default 1 s). */
  probeMs?: number;
  /** Random source in [0,1) to jitter the probe interval by ±jitter (default no jitter). */
  random?: () => number;
  jitter?: number;
  /** Elastic slots in use; when under half the limit, the limit does not grow (Gradient2's app-limited rule). */
  inFlight?: () => number;
}

export class AdaptiveLimit implements ElasticBudget {
  private limit: number;
  private minRtt: number | null = null;
  private windowStart: number;
  private samples: number[] = [];
  private seen = 0;
  private probeUntil: number | null = null;
  private probeBest = Infinity;
  /** When the windows without latency-sensitive samples began; null while such work runs. */
  private quietSince: number | null = null;
  private nextProbe: number;
  private rng = 0x9e3779b9;
  private readonly o: Required<Omit<AdaptiveLimitOptions, 'random' | 'inFlight'>> & AdaptiveLimitOptions;

  constructor(options: AdaptiveLimitOptions) {
    if (!(options.min >= 0 && options.max >= options.min)) throw new RangeError('adaptive limit needs 0 <= min <= max');
    this.o = {
      initial: options.min,
      windowMs: 100,
      percentile: 0.9,
      buffer: 0.1,
      minSamples: 5,
      maxSamplesPerWindow: 1000,
      probeIntervalMs: 60_000,
      probeMs: 1000,
      jitter: 0,
      ...options,
    };
    this.limit = clamp(this.o.initial, this.o.min, this.o.max);
    this.windowStart = options.now();
    this.nextProbe = this.scheduleProbe(this.windowStart);
  }

  /** One server-side latency sample (request sent → ReadyForQuery) from a non-elastic class. */
  update(serverLatencyMs: number): void {
    if (!(serverLatencyMs >= 0 && Number.isFinite(serverLatencyMs))) return;
    this.roll(this.o.now());
    this.record(serverLatencyMs);
  }

  elasticSlots(): number {
    this.roll(this.o.now());
    return this.probeUntil !== null ? this.o.min : Math.floor(this.limit);
  }

  /** The unrounded budget, for metrics. */
  get current(): number {
    return this.limit;
  }
  get minRttMs(): number | null {
    return this.minRtt;
  }
  get probing(): boolean {
    return this.probeUntil !== null;
  }

  private record(x: number): void {
    this.seen++;
    if (this.samples.length < this.o.maxSamplesPerWindow) {
      this.samples.push(x);
      return;
    }
    const j = Math.floor(this.random() * this.seen);
    if (j < this.samples.length) this.samples[j] = x;
  }

  /**
   * Closes the current window when it is over, then starts or ends a probe by time. A window with a few
   * samples stretches (up to MAX_STRETCH windows) until it has enough; one with none means no latency-
   * sensitive work is running, so there is nothing to protect and the budget may grow.
   */
  private roll(now: number): void {
    const age = now - this.windowStart;
    if (age >= this.o.windowMs) {
      const n = this.samples.length;
      if (n >= this.o.minSamples || n === 0 || age >= this.o.windowMs * MAX_STRETCH) {
        const sample = n > 0 ? percentile(this.samples, this.o.percentile) : null;
        this.samples = [];
        this.seen = 0;
        this.windowStart = now;
        if (sample !== null) {
          this.probeOnReturn(now);
          this.onWindow(sample);
        } else {
          this.quietSince ??= now;
          if (this.probeUntil === null) this.grow(this.limit + Math.sqrt(this.limit));
        }
      }
    }
    if (this.probeUntil !== null && now >= this.probeUntil) {
      if (this.probeBest < Infinity) this.minRtt = this.probeBest;
      this.probeUntil = null;
      this.nextProbe = this.scheduleProbe(now);
    } else if (this.probeUntil === null && this.o.probeIntervalMs > 0 && now >= this.nextProbe) {
      this.probeUntil = now + this.o.probeMs;
      this.probeBest = Infinity;
    }
  }

  /**
   * Latency-sensitive work is back after a quiet spell in which elastic work grew unwatched: its first
   * latencies are measured on a server the elastic work already loads, so taking them as the baseline
   * would protect nothing. A probe (the budget at its minimum) measures the baseline first.
   */
  private probeOnReturn(now: number): void {
    const quiet = this.quietSince !== null && now - this.quietSince >= QUIET_MS;
    this.quietSince = null;
    if (!quiet || this.probeUntil !== null || this.limit <= this.o.min) return;
    this.probeUntil = now + this.o.probeMs;
    this.probeBest = Infinity;
  }

  /**
   * E ← clamp(E·g + √E·r, min, max) with g = clamp(minRTT·(1+buffer)/sample, 0.5, 1) and the growth
   * term r = clamp((g − 0.75) / 0.25, 0, 1). Gradient2's plain +√E would hold E at 4 however slow the
   * server got (E = E/2 + √E at g = 0.5), which on a small server is enough elastic work to saturate
   * it; fading the growth out as latency inflates lets E settle where p90 stays within about 1.4×
   * minRTT, down to the minimum.
   */
  private onWindow(sample: number): void {
    if (this.probeUntil !== null) {
      this.probeBest = Math.min(this.probeBest, sample);
      return;
    }
    if (this.minRtt === null || sample < this.minRtt) this.minRtt = sample;
    const gradient = sample > 0 ? clamp((this.minRtt * (1 + this.o.buffer)) / sample, 0.5, 1) : 1;
    const room = clamp((gradient - GROWTH_FLOOR) / (1 - GROWTH_FLOOR), 0, 1);
    this.grow(this.limit * gradient + Math.sqrt(this.limit) * room);
  }

  private grow(next: number): void {
    // Growing while elastic work does not even use half the budget would be unproven headroom.
    if (next > this.limit && this.o.inFlight && this.o.inFlight() < this.limit / 2) next = this.limit;
    this.limit = clamp(next, this.o.min, this.o.max);
  }

  private scheduleProbe(now: number): number {
    const spread = this.o.random ? (this.o.random() * 2 - 1) * this.o.jitter : 0;
    return now + this.o.probeIntervalMs * (1 + spread);
  }

  /** xorshift32 for reservoir sampling; deterministic, instance-local. */
  private random(): number {
    let x = this.rng;
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    this.rng = x >>> 0;
    return this.rng / 0x100000000;
  }
}

function clamp(x: number, lo: number, hi: number): number {
  return Math.min(hi, Math.max(lo, x));
}

function percentile(xs: number[], p: number): number {
  const sorted = [...xs].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))]!;
}
