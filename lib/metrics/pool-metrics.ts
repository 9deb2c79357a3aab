// Per pool metrics: server connections by state at scrape time, connect latency and evictions as events.
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

const CONNECT_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 15];
export const SERVER_STATES = ['login', 'idle', 'active', 'used', 'testing'] as const;

/** What a scrape reads of a pool; lib/pool/pool.ts's Pool fits it as it is. */
export interface PoolView {
  readonly name: string;
  readonly connecting: number;
  readonly idle: { readonly size: number };
  readonly used: Iterable<{ readonly link: unknown; readonly busyInternally: boolean }>;
  /** Server connections pinned to one client by session state; read when the pool provides it. */
  readonly pinnedCount?: number;
  /** Cumulative prepared-statement cache counts; read when the pool provides them. */
  readonly preparedStatements?: { readonly hits: number; readonly misses: number; readonly evictions: number };
}

interface PoolSeries {
  readonly connect: Histogram.Internal<'pool'>;
  readonly connectErrors: Counter.Internal;
  readonly evictions: Counter.Internal;
}

export class PoolMetrics {
  private readonly servers: Gauge<'pool' | 'state'>;
  private readonly connect: Histogram<'pool'>;
  private readonly connectErrors: Counter<'pool'>;
  private readonly evictions: Counter<'pool'>;
  private readonly pinned: Gauge<'pool'>;
  private readonly prepared: Record<'hits' | 'misses' | 'evictions', Counter<'pool'>>;
  private readonly byPool = new Map<string, PoolSeries>();

  constructor(register: Registry) {
    const registers = [register];
    const pool = ['pool'];
    this.servers = new Gauge({
      name: 'sluice_pool_server_connections',
      help: 'Server connections by state: login (connecting), idle, active (linked to a client), used (taken, not yet linked), testing (running a reset, rollback or parameter sync).',
      labelNames: ['pool', 'state'], registers,
    });
    this.connect = new Histogram({
      name: 'sluice_pool_connect_seconds', help: 'Time to open a server connection: TCP, TLS and login.',
      labelNames: pool, buckets: CONNECT_BUCKETS, registers,
    });
    this.connectErrors = new Counter({ name: 'sluice_pool_connect_errors_total', help: 'Server connection attempts that failed.', labelNames: pool, registers });
    this.evictions = new Counter({
      name: 'sluice_pool_evictions_total', help: 'Idle server connections closed to make room for another pool of the same budget.', labelNames: pool, registers,
    });
    this.pinned = new Gauge({ name: 'sluice_pool_pinned_server_connections', help: 'Server connections pinned to one client by session state.', labelNames: pool, registers });
    const prepared = (what: string, help: string) => new Counter({ name: `sluice_pool_prepared_statement_${what}_total`, help, labelNames: pool, registers });
    this.prepared = {
      hits: prepared('hits', 'Prepared statements found already prepared on the server connection.'),
      misses: prepared('misses', 'Prepared statements that had to be prepared on the server connection.'),
      evictions: prepared('evictions', 'Prepared statements closed on a server connection to bound its cache.'),
    };
  }

  launched(pool: string, ms: number, ok: boolean): void {
    const s = this.seriesOf(pool);
    if (ok) s.connect.observe(ms / 1000);
    else s.connectErrors.inc();
  }

  evicted(pool: string): void {
    this.seriesOf(pool).evictions.inc();
  }

  private seriesOf(pool: string): PoolSeries {
    let s = this.byPool.get(pool);
    if (!s) {
      s = { connect: this.connect.labels({ pool }), connectErrors: this.connectErrors.labels({ pool }), evictions: this.evictions.labels({ pool }) };
      this.byPool.set(pool, s);
    }
    return s;
  }

  /** Scrape time: one walk over each pool's connections in use; idle and connecting are counts. */
  refresh(pools: Iterable<PoolView>): void {
    this.servers.reset();
    this.pinned.reset();
    for (const c of Object.values(this.prepared)) c.reset();
    for (const p of pools) {
      const n = { login: p.connecting, idle: p.idle.size, active: 0, used: 0, testing: 0 };
      for (const conn of p.used) {
        if (conn.busyInternally) n.testing++;
        else if (conn.link) n.active++;
        else n.used++;
      }
      for (const state of SERVER_STATES) this.servers.set({ pool: p.name, state }, n[state]);
      this.pinned.set({ pool: p.name }, p.pinnedCount ?? 0);
      const ps = p.preparedStatements;
      this.prepared.hits.inc({ pool: p.name }, ps?.hits ?? 0);
      this.prepared.misses.inc({ pool: p.name }, ps?.misses ?? 0);
      this.prepared.evictions.inc({ pool: p.name }, ps?.evictions ?? 0);
    }
  }
}
