// SHOW POOLS: one row per (database, server user) pool, with PgBouncer's columns in PgBouncer's order.
import type { Pool } from '../../pool/pool.js';
import type { AdminHost } from '../admin-host.js';
import { columns, type Cell, type ResultSet } from './result-set.js';

export const POOLS_COLUMNS = columns({
  database: 'text',
  user: 'text',
  cl_active: 'int4',
  cl_waiting: 'int4',
  cl_active_cancel_req: 'int4',
  cl_waiting_cancel_req: 'int4',
  sv_active: 'int4',
  sv_active_cancel: 'int4',
  sv_being_canceled: 'int4',
  sv_idle: 'int4',
  sv_used: 'int4',
  sv_tested: 'int4',
  sv_login: 'int4',
  maxwait: 'int4',
  maxwait_us: 'int4',
  pool_mode: 'text',
  load_balance_hosts: 'text',
  // Sluice's own columns follow PgBouncer's.
  budget: 'text',
  sv_pinned: 'int4',
  paused: 'int4',
  retired: 'int4',
});

interface ClientCounts {
  active: number;
  waiting: number;
  oldestWait: number;
}

export function showPools(host: AdminHost): ResultSet {
  const counts = new Map<Pool, ClientCounts>();
  for (const s of host.clients()) {
    let c = counts.get(s.pool);
    if (!c) counts.set(s.pool, (c = { active: 0, waiting: 0, oldestWait: Infinity }));
    const since = s.waitingSince;
    if (since === null) c.active++;
    else {
      c.waiting++;
      c.oldestWait = Math.min(c.oldestWait, since);
    }
  }
  const now = host.clock.now();
  const rows: Cell[][] = [];
  for (const pool of host.pools()) rows.push(poolRow(host, pool, counts.get(pool), now));
  return { columns: POOLS_COLUMNS, rows };
}

function poolRow(host: AdminHost, pool: Pool, c: ClientCounts | undefined, now: number): Cell[] {
  let active = 0;
  let tested = 0;
  let pinned = 0;
  for (const conn of pool.used) {
    // Linked to a client: active; busy with the pooler's own reset or rollback: PgBouncer's "tested".
    if (conn.link) active++;
    else tested++;
    if (host.pinned?.(conn)) pinned++;
  }
  // Pinned connections wait between their client's transactions in a list of their own.
  for (const conn of pool.pinned) {
    active++;
    if (host.pinned?.(conn)) pinned++;
  }
  const waitMs = c && c.waiting > 0 ? Math.max(0, now - c.oldestWait) : 0;
  const waitUs = Math.round(waitMs * 1000);
  return [
    pool.database,
    pool.settings.target.user,
    c?.active ?? 0,
    c?.waiting ?? 0,
    0,
    0,
    active,
    0,
    0,
    pool.idle.size,
    0,
    tested,
    pool.connecting,
    Math.floor(waitUs / 1_000_000),
    waitUs % 1_000_000,
    pool.settings.mode,
    null,
    pool.budget,
    pinned,
    host.scheduler.isPaused(pool.database) ? 1 : 0,
    pool.retired ? 1 : 0,
  ];
}
