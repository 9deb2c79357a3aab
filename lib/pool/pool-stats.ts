// Per-database traffic counters (PgBouncer's SHOW STATS): plain numbers bumped by sessions, averaged per stats_period.

/** The counted quantities; times are microseconds, as PgBouncer reports them. */
export interface StatsTotals {
  /** Times a server connection was assigned to a client. */
  serverAssignments: number;
  xactCount: number;
  /** ReadyForQuery messages relayed: one per simple query, one per extended-protocol Sync. */
  queryCount: number;
  /** Bytes received from clients. */
  bytesReceived: number;
  /** Bytes of server responses relayed to clients. */
  bytesSent: number;
  xactUs: number;
  queryUs: number;
  /** Time clients waited for a server connection. */
  waitUs: number;
  /** Prepared-statement counters, fed by prepared statement tracking; 0 until it counts. */
  clientParseCount: number;
  serverParseCount: number;
  bindCount: number;
  clientLogins: number;
}

/** Averages over the last complete stats period: rates per second, times per event in microseconds. */
export type StatsAverages = StatsTotals;

const KEYS = [
  'serverAssignments',
  'xactCount',
  'queryCount',
  'bytesReceived',
  'bytesSent',
  'xactUs',
  'queryUs',
  'waitUs',
  'clientParseCount',
  'serverParseCount',
  'bindCount',
  'clientLogins',
] as const satisfies readonly (keyof StatsTotals)[];

function zero(): StatsTotals {
  return {
    serverAssignments: 0,
    xactCount: 0,
    queryCount: 0,
    bytesReceived: 0,
    bytesSent: 0,
    xactUs: 0,
    queryUs: 0,
    waitUs: 0,
    clientParseCount: 0,
    serverParseCount: 0,
    bindCount: 0,
    clientLogins: 0,
  };
}

/**
 * One database's counters. Fields are public numbers so the hot path pays one addition per event;
 * the helper methods only convert milliseconds from the clock into microseconds.
 */
export class PoolStats implements StatsTotals {
  serverAssignments = 0;
  xactCount = 0;
  queryCount = 0;
  bytesReceived = 0;
  bytesSent = 0;
  xactUs = 0;
  queryUs = 0;
  waitUs = 0;
  clientParseCount = 0;
  serverParseCount = 0;
  bindCount = 0;
  clientLogins = 0;
  /** Totals at the start of the current period, and the averages of the last complete one. */
  private periodStart: StatsTotals = zero();
  private periodStartAt: number;
  private avg: StatsAverages = zero();

  constructor(now: number) {
    this.periodStartAt = now;
  }

  /** A server connection was linked to a client that waited waitedMs for it. */
  assigned(waitedMs: number): void {
    this.serverAssignments++;
    this.waitUs += Math.round(waitedMs * 1000);
  }

  /** `count` requests completed after the server had work outstanding for busyMs. */
  queriesDone(count: number, busyMs: number): void {
    this.queryCount += count;
    this.queryUs += Math.round(busyMs * 1000);
  }

  xactDone(ms: number): void {
    this.xactCount++;
    this.xactUs += Math.round(ms * 1000);
  }

  totals(): StatsTotals {
    const out = zero();
    for (const k of KEYS) out[k] = this[k];
    return out;
  }

  averages(): StatsAverages {
    return { ...this.avg };
  }

  /** Closes the current period once it is periodMs old (PgBouncer's stats_period); returns whether it did. */
  roll(now: number, periodMs: number): boolean {
    const elapsed = now - this.periodStartAt;
    if (elapsed < periodMs || elapsed <= 0) return false;
    const d = zero();
    for (const k of KEYS) d[k] = this[k] - this.periodStart[k];
    const perSecond = (n: number): number => Math.round((n * 1000) / elapsed);
    const per = (n: number, events: number): number => (events > 0 ? Math.round(n / events) : 0);
    this.avg = {
      serverAssignments: perSecond(d.serverAssignments),
      xactCount: perSecond(d.xactCount),
      queryCount: perSecond(d.queryCount),
      bytesReceived: perSecond(d.bytesReceived),
      bytesSent: perSecond(d.bytesSent),
      xactUs: per(d.xactUs, d.xactCount),
      queryUs: per(d.queryUs, d.queryCount),
      waitUs: per(d.waitUs, d.serverAssignments),
      clientParseCount: perSecond(d.clientParseCount),
      serverParseCount: perSecond(d.serverParseCount),
      bindCount: perSecond(d.bindCount),
      clientLogins: perSecond(d.clientLogins),
    };
    this.periodStart = this.totals();
    this.periodStartAt = now;
    return true;
  }
}
