// The client's messages of its current pipeline, kept from the first retryable request on, so that one can be sent again.

/** A retry re-sends at most this many messages; longer pipelines are not retried. */
const MAX_KEPT = 64;

/**
 * Only a pipeline's first Bind, or a Describe before any Bind or Execute, can be retried: nothing ran
 * before it that its failure rolled back. Messages are kept where they lie, with no copy and no view
 * allocated per message, until the pipeline's Sync has been answered or the next retryable one starts.
 */
export class RetryWindow {
  private readonly bufs: Buffer[] = [];
  private readonly starts: number[] = [];
  private readonly ends: number[] = [];
  private keeping = false;
  /** A Bind or Execute was sent since the last Sync. */
  private ran = false;
  /** Messages being sent again are not kept again: a request is retried once. */
  replaying = false;

  /** Every client message on its way to the server. */
  message(buf: Buffer, start: number, end: number): void {
    if (this.keeping && !this.replaying && this.bufs.length <= MAX_KEPT) this.push(buf, start, end);
  }

  /** The message just kept at buf[start] was held back instead of sent: it is kept again when it goes. */
  unkeep(buf: Buffer, start: number): void {
    const n = this.bufs.length - 1;
    if (n >= 0 && this.bufs[n] === buf && this.starts[n] === start) this.bufs.length = this.starts.length = this.ends.length = n;
  }

  /** A Bind or Execute was sent: later failures in this pipeline are not retried. */
  ranRequest(): void {
    this.ran = true;
  }

  /** The pipeline's Sync was sent (it is kept with it). */
  synced(): void {
    this.ran = this.keeping = false;
  }

  /** A named Bind or Describe: its place in the window if it can be retried, else -1. Call before ranRequest. */
  candidate(buf: Buffer, start: number, end: number): number {
    if (this.ran || this.replaying) return -1;
    if (!this.keeping) {
      this.clear();
      this.keeping = true;
      this.push(buf, start, end);
    }
    return this.bufs.length > MAX_KEPT ? -1 : this.bufs.length - 1;
  }

  /** Whether the window still holds the whole pipeline from candidate `at` on. */
  holds(at: number): boolean {
    return at >= 0 && at < this.bufs.length && this.bufs.length <= MAX_KEPT;
  }

  /** The type byte of the message at `at`. */
  typeAt(at: number): number {
    return this.bufs[at][this.starts[at]];
  }

  /** The messages from `at` on, to send again; the window is emptied. */
  take(at: number): Buffer[] {
    const out: Buffer[] = [];
    for (let i = at; i < this.bufs.length; i++) out.push(this.bufs[i].subarray(this.starts[i], this.ends[i]));
    this.clear();
    this.keeping = false;
    return out;
  }

  clear(): void {
    this.bufs.length = this.starts.length = this.ends.length = 0;
  }

  reset(): void {
    this.clear();
    this.keeping = this.ran = this.replaying = false;
  }

  private push(buf: Buffer, start: number, end: number): void {
    this.bufs.push(buf);
    this.starts.push(start);
    this.ends.push(end);
  }
}
