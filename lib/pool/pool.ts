// The server connections of one (database, server user) target: idle (LIFO), linked, pinned to a client, and how many are logging in.
import { List, move } from '../list.js';
import type { Clock } from '../clock.js';
import type { PoolMode } from '../config/types.js';
import { TxStatus } from '../protocol/codes.js';
import { ServerConnection } from './server-connection.js';
import { PoolStats } from './pool-stats.js';
import { countLibrarySettings, finishReset } from './session-reset.js';
import { loginToServer, ServerRejectedLogin, type ServerTarget } from './server-login.js';
import type { SocketReader } from '../socket-read.js';

const CANNOT_CONNECT_NOW = '57P03';

export interface PoolSettings {
  /** The database name clients use (the config key). */
  database: string;
  /** The slot budget this pool draws from: the database's when max_server_connections is set, else its own. */
  budget: string;
  target: ServerTarget;
  mode: PoolMode;
  size: number;
  minSize: number;
  idleTimeoutMs: number;
  lifetimeMs: number;
  resetQuery: string;
  /** Bound of each server connection's prepared-statement LRU in transaction mode; 0 turns the feature off. */
  maxPreparedStatements: number;
  /** pkt_buf: bytes buffered for one client, either way, before reading from the other side pauses. */
  pktBuf: number;
}

/** Plain counters of the prepared-statement LRUs of one pool, for metrics to export. */
export interface PreparedStats {
  /** A client's statement was already prepared on its server connection. */
  hits: number;
  /** It had to be prepared there first. */
  misses: number;
  /** A statement was closed on a server connection to make room. */
  evictions: number;
}

/** Signals a pool sends upstream (to the scheduler); set by the composition root. */
export interface PoolEvents {
  /** A connection became idle, or one in use closed: a waiter may take it or its room. */
  idle(pool: Pool): void;
  /** An idle connection closed (evicted, expired): its room may go to another pool. */
  closed?(pool: Pool): void;
  /** A login failed; retryable when the server may come back (refused, reset, timeout, 57P03). */
  loginFailed(pool: Pool, reason: string, retryable: boolean): void;
  /** A connection attempt (connect, TLS and login) ended after ms, logged in or not (metrics). */
  launched?(pool: Pool, ms: number, ok: boolean): void;
  /** What a login's completion set off threw (a fault boundary: it must not become an unhandled rejection). */
  fault?(pool: Pool, err: unknown): void;
}

export class Pool {
  readonly idle = new List<ServerConnection>('idle');
  readonly used = new List<ServerConnection>('used');
  /** Linked to a client between its transactions, because of session state (session_state: pin); its size is the pinned count. */
  readonly pinned = new List<ServerConnection>('pinned');
  connecting = 0;
  /** ParameterStatus set of the first login: what new clients are told. */
  params: Map<string, string> | null = null;
  lastError: string | null = null;
  /** Replaced by a reload: connections are closed when handed back instead of kept. */
  retired = false;
  /** The pool that replaced this one on reload: its sessions move there at their next transaction. */
  successor: Pool | null = null;
  /**
   * Connections open or opening, counted with every pool of the same slot budget, and the budget's slots:
   * the scheduler shares one tally among them so a full budget is known without adding up its pools.
   */
  tally = { conns: 0, slots: Infinity };
  readonly preparedStats: PreparedStats = { hits: 0, misses: 0, evictions: 0 };
  private paramWaiters: Array<(err: string | null) => void> = [];

  constructor(
    readonly name: string,
    public settings: PoolSettings,
    private readonly clock: Clock,
    private readonly events: PoolEvents,
    /** Hands out server connection ids, unique across the pooler. */
    private readonly nextId: () => number,
    /** SHOW STATS counters, shared by every pool of the same database. */
    readonly stats: PoolStats = new PoolStats(clock.now()),
    /** Server sockets read below the stream with it; null: through 'data'. */
    private readonly reader: SocketReader | null = null,
  ) {}

  get database(): string {
    return this.settings.database;
  }

  get budget(): string {
    return this.settings.budget;
  }

  /** For metrics: connections pinned to a client by session state. */
  get pinnedCount(): number {
    return this.pinned.size;
  }

  /** For metrics: the named prepared statement cache counts. */
  get preparedStatements(): PreparedStats {
    return this.preparedStats;
  }

  get total(): number {
    return this.idle.size + this.used.size + this.pinned.size + this.connecting;
  }

  /** Connections lent to a transaction: each comes back when it ends. */
  get inUse(): number {
    return this.used.size;
  }

  /** At its pool size: more transactions wait for its own connections. */
  get full(): boolean {
    return this.total >= this.settings.size;
  }

  /** Clients wait for the server parameters and no login is under way to learn them. */
  get needsFirstLogin(): boolean {
    return this.params === null && this.paramWaiters.length > 0 && this.connecting === 0;
  }

  /** Takes the warmest idle connection, or null. */
  takeIdle(): ServerConnection | null {
    const conn = this.idle.last();
    if (!conn) return null;
    move(conn, this.used);
    return conn;
  }

  /** The linked client keeps this connection between transactions. */
  pin(conn: ServerConnection): void {
    if (conn.list === this.used) move(conn, this.pinned);
  }

  unpin(conn: ServerConnection): void {
    if (conn.list === this.pinned) move(conn, this.used);
  }

  /** Hands a clean connection back. Expired ones are closed instead. */
  release(conn: ServerConnection): void {
    if (conn.closed) return;
    conn.detach();
    if (conn.closeWhenReleased !== null) return conn.close(conn.closeWhenReleased);
    // A cancel its last client sent may land late: held back until Postgres has taken it, as PgBouncer does.
    if (conn.cancelling) return conn.whenCancelsDone(() => this.release(conn));
    const now = this.clock.now();
    conn.lastUsedAt = now;
    if (this.settings.lifetimeMs > 0 && now - conn.createdAt >= this.settings.lifetimeMs) {
      conn.close('server_lifetime reached');
      return;
    }
    if (this.retired) return conn.close('pool replaced by a reload');
    // A reload made the pool or its budget smaller than it is: the surplus closes as it comes back.
    if (this.oversize) return conn.close('pool size reduced by a reload');
    move(conn, this.idle);
    this.events.idle(this);
  }

  /** Session mode hand-back: run the reset query first, close on any failure. */
  releaseWithReset(conn: ServerConnection): void {
    conn.detach();
    const q = this.settings.resetQuery;
    if (!q) return this.release(conn);
    conn.runInternal(q, (err) => {
      if (err) return conn.close(`server_reset_query failed: ${err}`);
      // The reset (DISCARD ALL) also undid tracked settings the server never reports, such as extra_float_digits.
      conn.applied.clear();
      conn.statements.doubtAll();
      finishReset(conn, (leftover) => (leftover !== null ? conn.close(leftover) : this.release(conn)));
    });
  }

  /** Takes back the connection of a client that left between requests: an open transaction is rolled back, session mode resets. */
  releaseAfterClient(conn: ServerConnection): void {
    const reset = this.settings.mode === 'session';
    if (conn.status === TxStatus.Idle) return reset ? this.releaseWithReset(conn) : this.release(conn);
    conn.runInternal('ROLLBACK', (err) => {
      if (err || conn.status !== TxStatus.Idle) return conn.close('rollback after client left failed');
      return reset ? this.releaseWithReset(conn) : this.release(conn);
    });
  }

  /** Opens up to n more connections, never beyond the pool size nor the budget's slots. */
  launch(n: number): void {
    const room = Math.min(this.settings.size - this.total, this.tally.slots - this.tally.conns);
    for (let i = 0; i < Math.min(n, room); i++) this.launchOne();
  }

  private launchOne(): void {
    this.connecting++;
    this.tally.conns++;
    const started = this.clock.now();
    loginToServer(this.settings.target, this.reader)
      .then(
        (login) => {
          this.events.launched?.(this, this.clock.now() - started, true);
          const conn = new ServerConnection(this.nextId(), login, this.clock.now(), (c) => this.onServerClosed(c));
          this.lastError = null;
          if (!this.params) this.params = new Map(login.params);
          this.flushParamWaiters(null);
          if (this.settings.mode !== 'session') return this.addIdle(conn);
          // What a clean connection holds, for the reset to notice a library a client loads; it counts as connecting meanwhile.
          countLibrarySettings(conn, (n, error) => {
            if (error !== null) {
              this.connecting--;
              return conn.close(`counting library settings failed: ${error}`);
            }
            conn.librarySettings = n;
            this.addIdle(conn);
          });
        },
        (err: Error) => {
          this.connecting--;
          this.tally.conns--;
          this.events.launched?.(this, this.clock.now() - started, false);
          this.lastError = err.message;
          // 57P03 cannot_connect_now (starting up, shutting down, recovering) is Postgres saying "try again shortly".
          const retryable = !(err instanceof ServerRejectedLogin) || err.sqlstate === CANNOT_CONNECT_NOW;
          this.flushParamWaiters(err.message);
          this.events.loginFailed(this, err.message, retryable);
        },
      )
      .catch((err: unknown) => this.events.fault?.(this, err));
  }

  private addIdle(conn: ServerConnection): void {
    this.connecting--;
    move(conn, this.idle);
    this.events.idle(this);
  }

  /**
   * Calls back once the pool knows its server parameters (after the first login), or with the login
   * error. The login itself is the scheduler's to launch, within the budget (see needsFirstLogin).
   */
  whenParamsKnown(cb: (err: string | null) => void): void {
    if (this.params) return cb(null);
    this.paramWaiters.push(cb);
  }

  /** Answers every client waiting for the first login (with err, or null once params are known). */
  flushParamWaiters(err: string | null): void {
    const waiters = this.paramWaiters;
    this.paramWaiters = [];
    for (const w of waiters) w(err);
  }

  private onServerClosed(conn: ServerConnection): void {
    const wasUsed = conn.list === this.used || conn.list === this.pinned;
    move(conn, null);
    this.tally.conns--;
    // Its slot is free: clients queued behind it need a new connection launched, or they wait out query_wait_timeout.
    if (wasUsed) this.events.idle(this);
    else this.events.closed?.(this);
  }

  /** Periodic upkeep: idle and lifetime expiry, and the min_pool_size floor. */
  sweep(): void {
    const now = this.clock.now();
    const { idleTimeoutMs, lifetimeMs, minSize } = this.settings;
    for (const conn of this.idle) {
      if (this.idle.size + this.used.size <= minSize && !(lifetimeMs > 0 && now - conn.createdAt >= lifetimeMs)) break;
      if (idleTimeoutMs > 0 && now - conn.lastUsedAt >= idleTimeoutMs) conn.close('server_idle_timeout reached');
      else if (lifetimeMs > 0 && now - conn.createdAt >= lifetimeMs) conn.close('server_lifetime reached');
    }
    if (this.total < minSize && this.lastError === null) this.launch(minSize - this.total);
  }

  /** More connections than the pool size, or than its budget's slots (max_server_connections): only after a reload shrank them. */
  get oversize(): boolean {
    return this.total > this.settings.size || this.tally.conns > this.tally.slots;
  }

  /** Closes idle connections, coldest first, while the pool or its budget holds more than it may (a reload shrank it). */
  trimToSize(): void {
    for (let conn = this.idle.first(); conn && this.oversize; conn = this.idle.first()) conn.close('pool size reduced by a reload');
  }

  closeIdle(reason: string): void {
    for (const conn of this.idle) conn.close(reason);
  }

  closeAll(reason: string): void {
    for (const conn of this.idle) conn.close(reason);
    for (const conn of this.used) conn.close(reason);
    for (const conn of this.pinned) conn.close(reason);
  }
}
