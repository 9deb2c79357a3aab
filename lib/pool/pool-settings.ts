// A pool's settings derived from the config snapshot: the server it logs in to, with which credentials, mode and sizes.
import type { DatabaseConfig, SluiceConfig } from '../config/types.js';
import { budgetOf } from '../config/budget-key.js';
import type { PoolSettings } from './pool.js';

export type ScramKeys = { clientKey: Buffer; serverKey: Buffer };

/** The settings of the pool for (db, serverUser), as the configuration in force describes it. */
export function poolSettings(
  c: SluiceConfig,
  db: DatabaseConfig,
  serverUser: string,
  clientUser: string,
  scramKeys?: ScramKeys,
): PoolSettings {
  const u = c.users.get(clientUser);
  const size = u?.pool_size ?? db.pool_size ?? c.default_pool_size;
  return {
    database: db.name,
    budget: budgetOf(c, db.name, `${db.name}/${serverUser}`, size).key,
    target: {
      host: db.host,
      port: db.port,
      dbname: db.dbname,
      user: serverUser,
      password: db.user ? (db.password ?? secretPassword(c, db.user)) : secretPassword(c, serverUser),
      scramKeys: db.user && db.password ? undefined : scramKeys,
      sslmode: c.server_tls.sslmode,
      caFile: c.server_tls.ca_file,
      connectTimeoutMs: c.server_connect_timeout,
      tcp: c.tcp,
    },
    mode: u?.pool_mode ?? db.pool_mode ?? c.pool_mode,
    size,
    minSize: db.min_pool_size ?? c.min_pool_size,
    idleTimeoutMs: c.server_idle_timeout,
    lifetimeMs: c.server_lifetime,
    resetQuery: c.server_reset_query,
    maxPreparedStatements: c.max_prepared_statements,
    pktBuf: c.pkt_buf,
  };
}

/** Whether a reload left the server and its login unchanged, so the pool's connections may stay. */
export function sameTarget(a: PoolSettings['target'], b: PoolSettings['target']): boolean {
  return (
    a.host === b.host &&
    a.port === b.port &&
    a.dbname === b.dbname &&
    a.user === b.user &&
    a.password === b.password &&
    a.sslmode === b.sslmode
  );
}

function secretPassword(c: SluiceConfig, user: string): string | undefined {
  const s = c.secrets.get(user);
  if (!s) return undefined;
  return s.kind === 'plain' ? s.password : s.kind === 'md5' ? s.hash : undefined;
}
