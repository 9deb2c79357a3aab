// When a session's transaction and its current run of requests began, counted into SHOW STATS when they end.
import type { PoolStats } from '../pool/pool-stats.js';

/** -1: not running. Clock readings may be 0 (a fake clock's start), so 0 cannot mean that. */
const NONE = -1;

export class TransactionTiming {
  private xactStart = NONE;
  private busySince = NONE;

  /** When the current run of requests began on a server (query_timeout); -1 when none is running. */
  get querySince(): number {
    return this.busySince;
  }

  /** When the current transaction began on a server (transaction_timeout); -1 outside one. */
  get transactionSince(): number {
    return this.xactStart;
  }

  /** A request went to a linked server with none outstanding: a busy spell, and maybe a transaction, begins. */
  busy(at: number): void {
    this.busySince = at;
    if (this.xactStart === NONE) this.xactStart = at;
  }

  /** A server was linked after waitedMs in the queue; with requests already outstanding it is busy at once. */
  linked(stats: PoolStats, now: number, waitedMs: number, outstanding: boolean): void {
    stats.assigned(waitedMs);
    this.xactStart = now;
    if (outstanding) this.busySince = now;
  }

  /** `count` ReadyForQuery arrived; `quiet`: nothing is outstanding now; `ended`: the server is out of a transaction. */
  ready(stats: PoolStats, count: number, now: number, quiet: boolean, ended: boolean): void {
    stats.queriesDone(count, quiet && this.busySince !== NONE ? now - this.busySince : 0);
    if (quiet) this.busySince = NONE;
    if (ended && this.xactStart !== NONE) {
      stats.xactDone(now - this.xactStart);
      this.xactStart = NONE;
    }
  }
}
