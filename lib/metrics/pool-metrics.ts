// Per pool metrics: server connections by state at scrape time, connect latency and evictions as events.
import type { Registry } from 'prom-client';
import { HistogramFamily, ValueFamily, type HistogramSeries, type ValueSeries } from './series.js';

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
  readonly connect: HistogramSeries;
  readonly connectErrors: ValueSeries;
  readonly evictions: ValueSeries;
}

export class PoolMetrics {
  private readonly servers: ValueFamily;
  private readonly connect: HistogramFamily;
  private readonly connectErrors: ValueFamily;
  private readonly evictions: ValueFamily;
  private readonly pinned: ValueFamily;
  private readonly prepared: Record<'hits' | 'misses' | 'evictions', ValueFamily>;
  private readonly byPool = new Map<string, PoolSeries>();

  constructor(register: Registry) {
    const pool = ['pool'];
    const family = (name: string, help: string, type: 'counter' | 'gauge', labels = pool) =>
      new ValueFamily(name, help, labels, type).register(register);
    this.servers = family(
      'sluice_pool_server_connections',
      'Server connections by state: login (connecting), idle, active (linked to a client), used (taken, not yet linked), testing (running a reset, rollback or parameter sync).',
      'gauge',
      ['pool', 'state'],
    );
    this.connect = new HistogramFamily(
      'sluice_pool_connect_seconds',
      'Time to open a server connection: TCP, TLS and login.',
      pool,
      CONNECT_BUCKETS,
    ).register(register);
    this.connectErrors = family('sluice_pool_connect_errors_total', 'Server connection attempts that failed.', 'counter');
    this.evictions = family(
      'sluice_pool_evictions_total',
      'Idle server connections closed to make room for another pool of the same budget.',
      'counter',
    );
    this.pinned = family('sluice_pool_pinned_server_connections', 'Server connections pinned to one client by session state.', 'gauge');
    this.prepared = {
      hits: family(
        'sluice_pool_prepared_statement_hits_total',
        'Prepared statements found already prepared on the server connection.',
        'counter',
      ),
      misses: family(
        'sluice_pool_prepared_statement_misses_total',
        'Prepared statements that had to be prepared on the server connection.',
        'counter',
      ),
      evictions: family(
        'sluice_pool_prepared_statement_evictions_total',
        'Prepared statements closed on a server connection to bound its cache.',
        'counter',
      ),
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
      s = {
        connect: this.connect.child({ pool }),
        connectErrors: this.connectErrors.child({ pool }),
        evictions: this.evictions.child({ pool }),
      };
      this.byPool.set(pool, s);
    }
    return s;
  }

  /** Scrape time: one walk over each pool's connections in use; idle and connecting are counts. */
  refresh(pools: Iterable<PoolView>): void {
    for (const f of [this.servers, this.pinned, this.prepared.hits, this.prepared.misses, this.prepared.evictions]) f.reset();
    for (const p of pools) {
      const n = { login: p.connecting, idle: p.idle.size, active: 0, used: 0, testing: 0 };
      for (const conn of p.used) {
        if (conn.busyInternally) n.testing++;
        else if (conn.link) n.active++;
        else n.used++;
      }
      const pool = p.name;
      for (const state of SERVER_STATES) this.servers.child({ pool, state }).value = n[state];
      this.pinned.child({ pool }).value = p.pinnedCount ?? 0;
      const ps = p.preparedStatements;
      this.prepared.hits.child({ pool }).value = ps?.hits ?? 0;
      this.prepared.misses.child({ pool }).value = ps?.misses ?? 0;
      this.prepared.evictions.child({ pool }).value = ps?.evictions ?? 0;
    }
  }
}
