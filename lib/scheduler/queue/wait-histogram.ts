// A fixed-size histogram of recent queue waits (two rotating windows of log buckets), for wait p99 per tenant and class.

/** Bucket 0 holds waits up to FIRST_MS; each later bucket is STEP times wider than the one before. */
const FIRST_MS = 0.1;
const STEP = Math.SQRT2;
const BUCKETS = 56; // 0.1 ms · √2^55 ≈ 5 hours: longer waits share the last bucket.
const LOG_STEP = Math.log(STEP);

/** Upper bound of each bucket, in ms. */
const BOUNDS = Array.from({ length: BUCKETS }, (_, i) => FIRST_MS * STEP ** i);

function bucketOf(ms: number): number {
  if (!(ms > FIRST_MS)) return 0;
  return Math.min(BUCKETS - 1, Math.ceil(Math.log(ms / FIRST_MS) / LOG_STEP - 1e-9));
}

/**
 * Recording is O(1) and allocates nothing. Quantiles cover the current window and the one before it,
 * so they describe the last one to two windows (1-2 minutes by default) and forget older bursts.
 * A quantile is reported as its bucket's upper bound: at most √2 (41%) above the true value.
 */
export class WaitHistogram {
  private cur = new Uint32Array(BUCKETS);
  private prev = new Uint32Array(BUCKETS);
  private curStart = -Infinity;

  constructor(private readonly windowMs = 60_000) {}

  record(ms: number, now: number): void {
    this.rotate(now);
    this.cur[bucketOf(ms)]++;
  }

  /** The q-quantile (0..1] of waits recorded in the last one to two windows, in ms; null without samples. */
  quantile(q: number, now: number): number | null {
    this.rotate(now);
    let total = 0;
    for (let i = 0; i < BUCKETS; i++) total += this.cur[i] + this.prev[i];
    if (total === 0) return null;
    const rank = Math.ceil(q * total);
    let seen = 0;
    for (let i = 0; i < BUCKETS; i++) {
      seen += this.cur[i] + this.prev[i];
      if (seen >= rank) return BOUNDS[i];
    }
    return BOUNDS[BUCKETS - 1];
  }

  private rotate(now: number): void {
    const age = now - this.curStart;
    if (age < this.windowMs) return;
    if (age >= 2 * this.windowMs) this.prev.fill(0);
    else [this.prev, this.cur] = [this.cur, this.prev];
    this.cur.fill(0);
    // Windows stay aligned to their first start, so a quiet spell does not stretch the next one.
    this.curStart = this.curStart === -Infinity || age >= 2 * this.windowMs ? now : this.curStart + this.windowMs;
  }
}
