// One pool's recent demand for server connections: what it has queued and granted, and its recent peak.

/**
 * The peak is the most transactions the pool had granted at once in the current window or the one
 * before it, so it decays to the present demand within two windows of quiet. Its idle connections up to
 * that peak are its warm share: evicting them would only make the pool log in again at its next burst.
 */
export class PoolDemand {
  /** Transactions of this pool waiting in the queue. */
  queued = 0;
  /** Transactions of this pool holding a slot (running, or granted and waiting for a connection). */
  active = 0;
  private peak = 0;
  private prevPeak = 0;
  private windowStart: number;

  constructor(
    private readonly windowMs: number,
    now: number,
  ) {
    this.windowStart = now;
  }

  granted(now: number): void {
    this.queued--;
    this.active++;
    this.roll(now);
    if (this.active > this.peak) this.peak = this.active;
  }

  released(): void {
    this.active--;
  }

  /** Connections this pool keeps warm: its recent peak, none while it has nothing recent. */
  warmShare(now: number): number {
    this.roll(now);
    return Math.max(this.peak, this.prevPeak);
  }

  private roll(now: number): void {
    const elapsed = now - this.windowStart;
    if (elapsed < this.windowMs) return;
    // A whole window without a touch: the previous window's peak was the demand that stayed.
    this.prevPeak = elapsed >= 2 * this.windowMs ? this.active : this.peak;
    this.peak = this.active;
    this.windowStart = now;
  }
}
