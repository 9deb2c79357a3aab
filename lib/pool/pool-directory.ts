// The pools by (database, server user), the pools a reload retired until they empty, and SHOW STATS counters per database.
import type { Clock } from '../clock.js';
import type { DatabaseConfig, SluiceConfig } from '../config/types.js';
import { Pool, type PoolEvents } from './pool.js';
import { poolSettings, sameTarget, type ScramKeys } from './pool-settings.js';
import { PoolStats } from './pool-stats.js';
import type { SocketReader } from '../socket-read.js';

export class PoolDirectory {
  /** Live pools by `database\0server user`. */
  readonly live = new Map<string, Pool>();
  /** Pools a reload replaced, until their last connection is gone (SHOW SERVERS close_needed, WAIT_CLOSE). */
  private readonly retired = new Set<Pool>();
  /** SHOW STATS counters per database, shared by the database's pools. */
  private readonly stats = new Map<string, PoolStats>();
  private nextServerId = 1;

  constructor(
    private readonly clock: Clock,
    private readonly events: PoolEvents,
    /** Server sockets read below the stream with it; null: through 'data'. */
    private readonly reader: SocketReader | null = null,
  ) {}

  /** The pool for (database, server user), created on first use. */
  poolFor(config: SluiceConfig, db: DatabaseConfig, clientUser: string, scramKeys?: ScramKeys): Pool {
    const serverUser = db.user ?? clientUser;
    const key = `${db.name}\0${serverUser}`;
    let pool = this.live.get(key);
    if (!pool) {
      const settings = poolSettings(config, db, serverUser, clientUser, scramKeys);
      pool = new Pool(
        `${db.name}/${serverUser}`,
        settings,
        this.clock,
        this.events,
        () => this.nextServerId++,
        this.statsFor(db.name),
        this.reader,
      );
      this.live.set(key, pool);
    } else if (scramKeys && !pool.settings.target.scramKeys && !pool.settings.target.password) {
      // The first client to log in with SCRAM lends the pool the keys it needs to log in to the server.
      pool.settings = { ...pool.settings, target: { ...pool.settings.target, scramKeys } };
    }
    return pool;
  }

  statsOf(database: string): PoolStats | undefined {
    return this.stats.get(database);
  }

  private statsFor(database: string): PoolStats {
    let st = this.stats.get(database);
    if (!st) this.stats.set(database, (st = new PoolStats(this.clock.now())));
    return st;
  }

  /**
   * Applies a reloaded config: pools keep running with fresh settings where their server and budget are
   * unchanged (trimToSize then closes what a smaller size leaves over); others are retired (their running
   * work finishes) and replaced by a successor that connected clients follow at their next transaction.
   * Returns the pools whose database is gone.
   */
  reconcile(next: SluiceConfig): Pool[] {
    const removed: Pool[] = [];
    const moved: Array<[Pool, DatabaseConfig, string]> = [];
    for (const [key, pool] of this.live) {
      const [dbName, user] = key.split('\0');
      const db = next.databases.get(dbName);
      if (!db) {
        this.retire(pool, key, 'database removed by reload');
        removed.push(pool);
        continue;
      }
      const fresh = poolSettings(next, db, user, user, pool.settings.target.scramKeys);
      // A pool moving to another slot budget is replaced too: its queued and running transactions finish in the old one.
      if (sameTarget(pool.settings.target, fresh.target) && pool.settings.budget === fresh.budget) pool.settings = fresh;
      else {
        this.retire(pool, key, 'server settings changed by reload');
        moved.push([pool, db, user]);
      }
    }
    // Created after the loop, since a Map iterator also visits entries added while it runs.
    for (const [pool, db, user] of moved) pool.successor = this.poolFor(next, db, user, pool.settings.target.scramKeys);
    return removed;
  }

  private retire(pool: Pool, key: string, reason: string): void {
    pool.retired = true;
    pool.closeIdle(reason);
    this.live.delete(key);
    if (pool.total > 0) this.retired.add(pool);
  }

  /** Periodic upkeep: pool expiry and minimums (skipping paused databases), retired pools, stats periods. */
  sweep(isPaused: (database: string) => boolean, statsPeriod: number): void {
    // A paused database keeps no connections: min_pool_size would reopen what PAUSE closed.
    for (const pool of this.live.values()) if (!isPaused(pool.database)) pool.sweep();
    for (const pool of this.retired) if (pool.total === 0) this.retired.delete(pool);
    const now = this.clock.now();
    for (const st of this.stats.values()) st.roll(now, statsPeriod);
  }

  /** After a reload, once budgets know their new slots: smaller pools and budgets close their surplus idle connections. */
  trimToSize(): void {
    for (const pool of this.live.values()) pool.trimToSize();
  }

  /** Databases with at least one open server connection. */
  connectedDatabases(): Set<string> {
    const connected = new Set<string>();
    for (const p of this.live.values()) if (p.idle.size + p.used.size > 0) connected.add(p.database);
    return connected;
  }

  /** Live pools, then retired ones still draining. */
  *all(): Iterable<Pool> {
    yield* this.live.values();
    yield* this.retired;
  }

  closeAll(reason: string): void {
    for (const pool of [...this.all()]) pool.closeAll(reason);
  }
}
