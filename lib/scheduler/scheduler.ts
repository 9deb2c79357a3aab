// Admission: client transactions wait here for a server connection of their pool, and are granted or rejected.
import type { Clock, TimerHandle } from '../clock.js';
import { List, move, type Listed } from '../list.js';
import { poolerError, type PoolerError } from '../errors.js';
import type { Pool } from '../pool/pool.js';
import type { ServerConnection } from '../pool/server-connection.js';

/** A session waiting for a server. It sits in its pool's queue list while waiting. */
export interface Waiter extends Listed<Waiter> {
  waitPool: Pool | null;
  enqueuedAt: number;
  granted(conn: ServerConnection): void;
  rejected(err: PoolerError): void;
}

interface PoolQueue {
  waiting: List<Waiter>;
  timer: TimerHandle | null;
  retry: TimerHandle | null;
}

export interface SchedulerSettings {
  queryWaitTimeoutMs: number;
  /** Delay before retrying a login the server may accept later. */
  loginRetryMs: number;
}

export class Scheduler {
  private readonly queues = new Map<Pool, PoolQueue>();
  private paused = new Set<string>();

  constructor(
    private readonly clock: Clock,
    public settings: SchedulerSettings,
  ) {}

  /** Grants at once when the pool has an idle connection, otherwise queues and opens connections. */
  acquire(pool: Pool, w: Waiter): void {
    const q = this.queue(pool);
    w.waitPool = pool;
    w.enqueuedAt = this.clock.now();
    move(w, q.waiting);
    this.dispatch(pool);
  }

  /** Takes a waiter out of its queue (client gone or cancelled). Returns whether it was queued. */
  cancel(w: Waiter): boolean {
    if (!w.list) return false;
    move(w, null);
    w.waitPool = null;
    return true;
  }

  waitingCount(pool: Pool): number {
    return this.queues.get(pool)?.waiting.size ?? 0;
  }

  /** Longest current wait in a pool, in ms. */
  maxWaitMs(pool: Pool): number {
    const head = this.queues.get(pool)?.waiting.first();
    return head ? this.clock.now() - head.enqueuedAt : 0;
  }

  pause(db: string | null): void {
    this.paused.add(db ?? '*');
  }

  resume(db: string | null, pools: Iterable<Pool>): void {
    if (db === null) this.paused.clear();
    else this.paused.delete(db);
    for (const p of pools) this.dispatch(p);
  }

  isPaused(database: string): boolean {
    return this.paused.has('*') || this.paused.has(database);
  }

  /** Matches waiters to idle connections; launches connections for the rest. Called on every change. */
  dispatch(pool: Pool): void {
    const q = this.queues.get(pool);
    if (!q || q.waiting.size === 0) return;
    if (this.paused.size > 0 && this.isPaused(pool.settings.target.dbname)) return this.armTimeout(pool, q);
    for (let w = q.waiting.first(); w; w = q.waiting.first()) {
      const conn = pool.takeIdle();
      if (!conn) break;
      move(w, null);
      w.waitPool = null;
      w.granted(conn);
    }
    const want = q.waiting.size - pool.connecting;
    if (want > 0 && !q.retry) pool.launch(want);
    this.armTimeout(pool, q);
  }

  /** A pool's login failed: rejected logins fail the waiters now, transient ones retry until they time out. */
  loginFailed(pool: Pool, reason: string, retryable: boolean): void {
    const q = this.queues.get(pool);
    if (!q) return;
    if (!retryable) {
      const err = poolerError('SLUICE_SERVER_LOGIN_FAILED', { pool: pool.name, reason });
      for (let w = q.waiting.first(); w; w = q.waiting.first()) this.reject(w, err);
      return;
    }
    if (q.retry || q.waiting.size === 0) return;
    q.retry = this.clock.setTimer(() => {
      q.retry = null;
      this.dispatch(pool);
    }, this.settings.loginRetryMs);
  }

  private reject(w: Waiter, err: PoolerError): void {
    move(w, null);
    w.waitPool = null;
    w.rejected(err);
  }

  /** One timer per pool, for the head of the FIFO: it always has the earliest deadline. */
  private armTimeout(pool: Pool, q: PoolQueue): void {
    q.timer?.cancel();
    q.timer = null;
    const head = q.waiting.first();
    const limit = this.settings.queryWaitTimeoutMs;
    if (!head || limit <= 0) return;
    const due = head.enqueuedAt + limit - this.clock.now();
    q.timer = this.clock.setTimer(() => this.expire(pool, q), due);
  }

  private expire(pool: Pool, q: PoolQueue): void {
    q.timer = null;
    const now = this.clock.now();
    const limit = this.settings.queryWaitTimeoutMs;
    for (let w = q.waiting.first(); w && now - w.enqueuedAt >= limit; w = q.waiting.first()) {
      const reason = pool.lastError ? ` (last server error: ${pool.lastError})` : '';
      this.reject(w, poolerError('SLUICE_QUERY_WAIT_TIMEOUT', { waitedMs: now - w.enqueuedAt, pool: pool.name, reason }));
    }
    this.armTimeout(pool, q);
  }

  private queue(pool: Pool): PoolQueue {
    let q = this.queues.get(pool);
    if (!q) {
      q = { waiting: new List<Waiter>('waiting'), timer: null, retry: null };
      this.queues.set(pool, q);
    }
    return q;
  }

  /** Drops a pool's queue state (pool removed on reload); its waiters are rejected with err. */
  forget(pool: Pool, err: PoolerError): void {
    const q = this.queues.get(pool);
    if (!q) return;
    for (let w = q.waiting.first(); w; w = q.waiting.first()) this.reject(w, err);
    q.timer?.cancel();
    q.retry?.cancel();
    this.queues.delete(pool);
  }
}
