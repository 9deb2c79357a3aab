// Token bucket over transaction starts, refilled lazily from the caller's clock (no timers).

export class TokenBucket {
  private tokens: number;
  private at: number;

  constructor(
    readonly perSecond: number,
    readonly burst: number,
    now: number,
  ) {
    this.tokens = burst;
    this.at = now;
  }

  available(now: number): number {
    this.refill(now);
    return this.tokens;
  }

  /** Takes one token if there is one. */
  tryTake(now: number): boolean {
    this.refill(now);
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }

  /** Takes one token even if that borrows from the future (the caller already decided to dispatch). */
  take(now: number): void {
    this.refill(now);
    this.tokens -= 1;
  }

  /** The first whole millisecond at which a token is available. */
  readyAt(now: number): number {
    this.refill(now);
    if (this.tokens >= 1) return now;
    return Math.ceil(now + ((1 - this.tokens) * 1000) / this.perSecond);
  }

  /** Same rate and size as a policy, so a reload can keep the current fill. */
  matches(perSecond: number, burst: number): boolean {
    return this.perSecond === perSecond && this.burst === burst;
  }

  private refill(now: number): void {
    if (now <= this.at) return;
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.at) * this.perSecond) / 1000);
    this.at = now;
  }
}
