// SHOW USERS: every user Sluice knows (configured, in the users file, or connected), with PgBouncer's columns.
import type { AdminHost } from '../admin-host.js';
import { columns, type Cell, type ResultSet } from './result-set.js';

export const USERS_COLUMNS = columns({
  name: 'text',
  pool_size: 'int4',
  reserve_pool_size: 'int4',
  pool_mode: 'text',
  max_user_connections: 'int4',
  current_connections: 'int4',
  max_user_client_connections: 'int4',
  current_client_connections: 'int4',
  // Sluice's own column: the user's admin console access (admin, stats or none).
  console: 'text',
});

export function showUsers(host: AdminHost): ResultSet {
  const c = host.config();
  const servers = new Map<string, number>();
  for (const pool of host.pools()) {
    const u = pool.settings.target.user;
    servers.set(u, (servers.get(u) ?? 0) + pool.total);
  }
  const clients = new Map<string, number>();
  for (const s of host.clients()) clients.set(s.ident.user, (clients.get(s.ident.user) ?? 0) + 1);
  const names = new Set([...c.users.keys(), ...c.secrets.keys(), ...c.admin_users, ...c.stats_users, ...clients.keys()]);
  const rows: Cell[][] = [...names].sort().map((name) => {
    const u = c.users.get(name);
    const access = c.admin_users.includes(name) ? 'admin' : c.stats_users.includes(name) ? 'stats' : null;
    // 0 means no limit, as in PgBouncer.
    return [name, u?.pool_size ?? null, null, u?.pool_mode ?? null, 0, servers.get(name) ?? 0, 0, clients.get(name) ?? 0, access];
  });
  return { columns: USERS_COLUMNS, rows };
}
