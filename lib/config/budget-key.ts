// Which slot budget a pool draws from: the database's shared max_server_connections, or the pool's own size.
import type { SluiceConfig } from './types.js';

/**
 * The budget a pool draws from. With max_server_connections (per database or global) all pools of the
 * database share it; without, each pool is its own budget of its pool size, as PgBouncer's pools are.
 */
export function budgetOf(c: SluiceConfig, database: string, poolName: string, poolSize: number): { key: string; slots: number } {
  const shared = c.databases.get(database)?.max_server_connections ?? c.max_server_connections;
  return shared === undefined ? { key: poolName, slots: poolSize } : { key: database, slots: shared };
}
