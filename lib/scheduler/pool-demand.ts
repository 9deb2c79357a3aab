// One pool's recent demand for server connections: what it has queued and granted, its recent peak and mean.

/**
 * Demand is measured over the current window and the one before it, so it decays to the present within
 * two windows of quiet. The pool's warm share is the idle connections it keeps from eviction: its mean
 * concurrency rounded up, plus one for the next arrival, never more than its recent peak. Sizing it by
 * the peak instead would let one burst (say eight clients at once) keep eight connections idle for
 * seconds while a busy neighbour waits for slots it cannot get a connection for.
 */
export class PoolDemand {
  /** Transactions of this pool waiting in the queue. */
  queued = 0;
  /** Transactions of this pool holding a slot (running, or granted and waiting for a connection). */
  active = 0;
  private peak = 0;
  private prevPeak = 0;
  /** Transaction-milliseconds granted in the current window, and in the one before over its span. */
  private area = 0;
  private prevArea = 0;
  /** The same for transactions waiting in the queue. */
  private queuedArea = 0;
  private prevQueuedArea = 0;
  private prevSpan = 0;
  private windowStart: number;
  private changedAt: number;

  constructor(
    private readonly windowMs: number,
    now: number,
  ) {
    this.windowStart = now;
    this.changedAt = now;
  }

  enqueued(now: number): void {
    this.roll(now);
    this.queued++;
  }

  /** Left the queue without a grant (cancelled, timed out). */
  dequeued(now: number): void {
    this.roll(now);
    this.queued--;
  }

  granted(now: number): void {
    this.roll(now);
    this.queued--;
    this.active++;
    if (this.active > this.peak) this.peak = this.active;
  }

  released(now: number): void {
    this.roll(now);
    this.active--;
  }

  /** Idle connections this pool keeps warm: ⌈mean concurrency⌉ + 1, at most its recent peak; none after quiet. */
  warmShare(now: number): number {
    this.roll(now);
    const peak = Math.max(this.peak, this.prevPeak);
    const span = this.prevSpan + (now - this.windowStart);
    // No time measured yet (a pool created this instant): no mean to go by, so its peak.
    if (span <= 0) return peak;
    return Math.min(peak, Math.ceil((this.prevArea + this.area) / span) + 1);
  }

  /**
   * Transactions waiting on average over the last one to two windows: at 1 or more the pool is
   * backlogged, not merely catching a moment when all its connections are busy.
   */
  meanQueued(now: number): number {
    this.roll(now);
    const span = this.prevSpan + (now - this.windowStart);
    return span <= 0 ? this.queued : (this.prevQueuedArea + this.queuedArea) / span;
  }

  private roll(now: number): void {
    if (now > this.changedAt) {
      this.area += this.active * (now - this.changedAt);
      this.queuedArea += this.queued * (now - this.changedAt);
      this.changedAt = now;
    }
    const elapsed = now - this.windowStart;
    if (elapsed < this.windowMs) return;
    // A whole window without a touch: what stayed through it was the present demand.
    const quiet = elapsed >= 2 * this.windowMs;
    this.prevPeak = quiet ? this.active : this.peak;
    this.prevArea = quiet ? this.active * this.windowMs : this.area;
    this.prevQueuedArea = quiet ? this.queued * this.windowMs : this.queuedArea;
    this.prevSpan = quiet ? this.windowMs : elapsed;
    this.peak = this.active;
    this.area = 0;
    this.queuedArea = 0;
    this.windowStart = now;
  }
}
