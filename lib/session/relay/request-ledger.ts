// What the server owes a client: a ReadyForQuery per request sent, the end of an unsynced extended-protocol batch, and the latency clock.
export class RequestLedger {
  /** Requests (Query, Sync, FunctionCall) sent whose ReadyForQuery has not come back. */
  awaiting = 0;
  /** Extended-protocol messages sent since the last Sync: the server owes no ReadyForQuery for them yet. */
  open = false;
  /** After a rejected transaction start, Postgres semantics: input is dropped until Sync. */
  discarding = false;
  /** When the oldest request still owed a ReadyForQuery went to the server; 0 when not measuring. */
  private sentAt = 0;

  /** Nothing is owed: no request in flight and no unsynced batch. */
  get quiet(): boolean {
    return this.awaiting === 0 && !this.open;
  }

  /** Counts a request; true when it is the only one outstanding, so the clocks start with it. */
  request(): boolean {
    return this.awaiting++ === 0;
  }

  /** Starts the server-side latency clock (the adaptive limit's sample). */
  startClock(now: number): void {
    this.sentAt = now;
  }

  /** ReadyForQuery came back for `count` requests: the latency sample once nothing is owed and the clock ran, else -1. */
  answered(count: number, now: number): number {
    this.awaiting -= count;
    if (this.awaiting > 0) return -1;
    this.awaiting = 0;
    if (this.sentAt === 0) return -1;
    const ms = now - this.sentAt;
    this.sentAt = 0;
    return ms;
  }

  /** A rejected transaction start: what was owed is forgotten; returns how many requests still need an answer. */
  reject(): number {
    const n = this.awaiting;
    this.awaiting = 0;
    this.sentAt = 0;
    if (this.open) {
      this.open = false;
      this.discarding = true;
    }
    return n;
  }
}
