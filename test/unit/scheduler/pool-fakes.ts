// Fakes of a pool, its server connections and a session, as the admission Scheduler sees them.
import { List, move } from '../../../lib/list.js';
import type { PoolerError } from '../../../lib/errors.js';
import type { Pool } from '../../../lib/pool/pool.js';
import type { ServerConnection } from '../../../lib/pool/server-connection.js';
import type { Waiter } from '../../../lib/scheduler/scheduler.js';
import type { Grant, Ticket } from '../../../lib/scheduler/queue/queue-nodes.js';

/** A server connection as the scheduler sees it: it sits in a pool's idle list and can be closed (evicted). */
export class FakeConn {
  prev: FakeConn | null = null;
  next: FakeConn | null = null;
  list: List<FakeConn> | null = null;
  closedFor: string | null = null;
  lastUsedAt = -Infinity;
  constructor(
    readonly id: number,
    readonly pool: FakePool,
  ) {}
  close(reason: string): void {
    this.closedFor = reason;
    move<FakeConn>(this as FakeConn, null);
    this.pool.tally.conns--;
  }
}

/** The slice of Pool the scheduler reads: idle connections, logins in flight, launches, size. */
export class FakePool {
  readonly idle = new List<FakeConn>('idle');
  used = 0;
  connecting = 0;
  launched = 0;
  lastError: string | null = null;
  /** Shared with the budget once the scheduler has seen the pool, as Pool's is. */
  tally = { conns: 0, slots: Infinity };
  private paramCallbacks: Array<(err: string | null) => void> = [];
  private hasParams = false;
  constructor(
    readonly name: string,
    /** The budget key: 'app' when the database's pools share max_server_connections, else the pool's own name. */
    readonly budget = 'app',
    readonly database = 'app',
    readonly size = 10,
  ) {}
  get total(): number {
    return this.idle.size + this.used + this.connecting;
  }
  get inUse(): number {
    return this.used;
  }
  get full(): boolean {
    return this.total >= this.size;
  }
  takeIdle(): ServerConnection | null {
    const c = this.idle.last();
    if (!c) return null;
    move(c, null);
    this.used++;
    return c as unknown as ServerConnection;
  }
  /** Told of each launch, so a simulation can let the login finish later; absent, the test calls connected(). */
  onLaunch: ((pool: FakePool) => void) | null = null;
  launch(n: number): void {
    const k = Math.max(0, Math.min(n, this.size - this.total, this.tally.slots - this.tally.conns));
    this.launched += k;
    this.connecting += k;
    this.tally.conns += k;
    for (let i = 0; i < k; i++) this.onLaunch?.(this);
  }
  /** Adds an idle connection without telling anyone (a warm pool at the start of a test). */
  warm(id: number): FakeConn {
    const c = new FakeConn(id, this);
    this.idle.push(c);
    this.tally.conns++;
    return c;
  }
  /** A login finished: its connection joins the idle list (already counted in the tally). */
  connected(id: number): void {
    this.connecting--;
    this.idle.push(new FakeConn(id, this));
    this.hasParams = true;
    for (const cb of this.paramCallbacks.splice(0)) cb(null);
  }
  whenParamsKnown(cb: (err: string | null) => void): void {
    if (this.hasParams) return cb(null);
    this.paramCallbacks.push(cb);
  }
  get needsFirstLogin(): boolean {
    return !this.hasParams && this.paramCallbacks.length > 0 && this.connecting === 0;
  }
  get asPool(): Pool {
    return this as unknown as Pool;
  }
}

export class FakeWaiter implements Waiter {
  prev: Waiter | null = null;
  next: Waiter | null = null;
  list: List<Waiter> | null = null;
  ticket: Ticket<Waiter> | null = null;
  grant: Grant<Waiter> | null = null;
  conn: FakeConn | null = null;
  error: PoolerError | null = null;
  constructor(
    readonly name: string,
    readonly fake: FakePool,
  ) {}
  get pool(): Pool {
    return this.fake.asPool;
  }
  granted(c: ServerConnection): void {
    this.conn = c as unknown as FakeConn;
  }
  rejected(err: PoolerError): void {
    this.error = err;
  }
}
