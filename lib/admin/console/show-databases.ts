// SHOW DATABASES: one row per configured database, with PgBouncer's columns in its order.
import type { AdminHost } from '../admin-host.js';
import { columns, type Cell, type ResultSet } from './result-set.js';

export const DATABASES_COLUMNS = columns({
  name: 'text',
  host: 'text',
  port: 'int4',
  database: 'text',
  force_user: 'text',
  pool_size: 'int4',
  min_pool_size: 'int4',
  reserve_pool_size: 'int4',
  server_lifetime: 'int4',
  pool_mode: 'text',
  load_balance_hosts: 'text',
  max_connections: 'int4',
  current_connections: 'int4',
  max_client_connections: 'int4',
  current_client_connections: 'int4',
  paused: 'int4',
  disabled: 'int4',
});

export function showDatabases(host: AdminHost): ResultSet {
  const c = host.config();
  const servers = new Map<string, number>();
  for (const pool of host.pools()) servers.set(pool.database, (servers.get(pool.database) ?? 0) + pool.total);
  const clients = new Map<string, number>();
  for (const s of host.clients()) clients.set(s.ident.database, (clients.get(s.ident.database) ?? 0) + 1);
  const rows: Cell[][] = [];
  for (const db of c.databases.values()) {
    rows.push([
      db.name,
      db.host,
      db.port,
      db.dbname,
      db.user ?? null,
      db.pool_size ?? c.default_pool_size,
      db.min_pool_size ?? c.min_pool_size,
      0,
      Math.round(c.server_lifetime / 1000),
      db.pool_mode ?? null,
      null,
      // 0 means no limit, as in PgBouncer.
      db.max_server_connections ?? c.max_server_connections ?? 0,
      servers.get(db.name) ?? 0,
      0,
      clients.get(db.name) ?? 0,
      host.scheduler.isPaused(db.name) ? 1 : 0,
      0,
    ]);
  }
  return { columns: DATABASES_COLUMNS, rows };
}
