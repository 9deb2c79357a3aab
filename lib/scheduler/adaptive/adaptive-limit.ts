// Adaptive elastic budget (Gradient2/Envoy style): shrinks the slots elastic classes may use when OLTP latency rises.
import { ElasticGradient } from './elastic-gradient.js';
import { clamp, nextLimit, Reservoir } from './latency-reservoir.js';
import type { AdaptiveView, ElasticBudget } from '../queue/queue-types.js';

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
  private readonly samples: Reservoir;
  /** Elastic work's own inflation: the budget is the lower of the two limits. */
  private readonly own: ElasticGradient;
  private probeUntil: number | null = null;
  private probeBest = Infinity;
  /** When the windows without latency-sensitive samples began; null while such work runs. */
  private quietSince: number | null = null;
  private nextProbe: number;
  /** The last judged window's latency percentile of latency-sensitive work (ms); null before the first. */
  private lastSample: number | null = null;
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
    this.samples = new Reservoir(this.o.maxSamplesPerWindow);
    // Elastic work alone keeps a slot, so its own latency is always being measured.
    const floor = Math.max(1, this.o.min);
    this.own = new ElasticGradient({
      now: options.now,
      min: floor,
      max: Math.max(floor, this.o.max),
      initial: this.o.initial,
      inFlight: options.inFlight,
    });
    this.windowStart = options.now();
    this.nextProbe = this.scheduleProbe(this.windowStart);
  }

  /** One server-side latency sample (request sent → ReadyForQuery) from a non-elastic class. */
  update(serverLatencyMs: number): void {
    if (!(serverLatencyMs >= 0 && Number.isFinite(serverLatencyMs))) return;
    this.roll(this.o.now());
    this.samples.add(serverLatencyMs);
  }

  /** One server-side latency sample of an elastic statement, with its statement shape (see ElasticGradient). */
  updateElastic(shape: string, serverLatencyMs: number): void {
    this.roll(this.o.now());
    this.own.update(shape, serverLatencyMs);
  }

  elasticSlots(): number {
    this.roll(this.o.now());
    return this.probeUntil !== null ? this.o.min : Math.floor(this.current);
  }

  /** The unrounded budget, for metrics: the lower of the latency-sensitive and the elastic work's own limit. */
  get current(): number {
    return Math.min(this.limit, this.own.current);
  }
  /** The limit from elastic work's own latency alone. */
  get elasticOwnLimit(): number {
    return this.own.current;
  }
  /** The lowest latency seen for an elastic statement shape. */
  elasticBaseline(shape: string): number | undefined {
    return this.own.baseline(shape);
  }
  get minRttMs(): number | null {
    return this.minRtt;
  }
  /** The limit from latency-sensitive work's latency alone (unrounded). */
  get latencyLimit(): number {
    return this.limit;
  }

  /** What SHOW CLASSES and the metrics show: the budget, both limits and the signals that drive them. */
  state(): AdaptiveView {
    return {
      elasticSlots: this.elasticSlots(),
      latencyLimit: this.limit,
      ownLimit: this.own.current,
      latencyMs: this.lastSample,
      baselineMs: this.minRtt,
      elasticInflation: this.own.inflation,
      probing: this.probeUntil !== null,
    };
  }
  get probing(): boolean {
    return this.probeUntil !== null;
  }

  /**
   * Closes the current window when it is over, then starts or ends a probe by time. A window with a few
   * samples stretches (up to MAX_STRETCH windows) until it has enough; one with none means no latency-
   * sensitive work is running, so there is nothing to protect and this limit may grow (elastic work's own
   * gradient still caps the budget).
   */
  private roll(now: number): void {
    this.own.roll(now);
    const age = now - this.windowStart;
    if (age >= this.o.windowMs) {
      const n = this.samples.size;
      if (n >= this.o.minSamples || n === 0 || age >= this.o.windowMs * MAX_STRETCH) {
        const sample = this.samples.take(this.o.percentile);
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
    if (!quiet || this.probeUntil !== null || this.current <= this.o.min) return;
    this.probeUntil = now + this.o.probeMs;
    this.probeBest = Infinity;
  }

  /** E ← clamp(E·g + √E·r, min, max) with g = clamp(minRTT·(1+buffer)/sample, 0.5, 1) (see nextLimit). */
  private onWindow(sample: number): void {
    this.lastSample = sample;
    if (this.probeUntil !== null) {
      this.probeBest = Math.min(this.probeBest, sample);
      return;
    }
    if (this.minRtt === null || sample < this.minRtt) this.minRtt = sample;
    const gradient = sample > 0 ? clamp((this.minRtt * (1 + this.o.buffer)) / sample, 0.5, 1) : 1;
    this.grow(nextLimit(this.limit, gradient));
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
}
