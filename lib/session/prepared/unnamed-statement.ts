// The client's last unnamed Parse, kept so that a later transaction on another server connection can prepare it again, as the client's own session would still have it.

/** Larger unnamed Parses are not kept: a later Bind of one on another connection gets SLUICE_UNNAMED_STATEMENT_ELSEWHERE. */
export const MAX_KEPT_UNNAMED = 64 * 1024;

export class UnnamedStatement {
  /** Reused from one Parse to the next, so keeping costs a copy, not an allocation. */
  private buf: Buffer | null = null;
  private len = 0;

  /** The client's Parse of the unnamed statement, buf[start, end). */
  keep(src: Buffer, start: number, end: number): void {
    const n = end - start;
    if (n > MAX_KEPT_UNNAMED) {
      this.len = 0;
      return;
    }
    if (this.buf === null || this.buf.length < n) this.buf = Buffer.allocUnsafe(Math.max(n, 256));
    src.copy(this.buf, 0, start, end);
    this.len = n;
  }

  /** A simple query replaced the unnamed statement: the client has none. */
  forget(): void {
    this.len = 0;
  }

  /** A copy of the kept Parse to send (the kept bytes change with the client's next Parse), or null. */
  copy(): Buffer | null {
    return this.len === 0 ? null : Buffer.from((this.buf as Buffer).subarray(0, this.len));
  }
}
