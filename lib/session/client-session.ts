// One authenticated client from its first query to Terminate: buffers a transaction's first frames, waits for a server, relays.
import type net from 'node:net';
import { Frontend, TxStatus } from '../protocol/codes.js';
import { FrameScanner, type FrameSink } from '../protocol/framing.js';
import * as encode from '../protocol/encode.js';
import { poolerError, type PoolerError } from '../errors.js';
import type { List } from '../list.js';
import type { Clock } from '../clock.js';
import type { Logger } from '../log.js';
import type { Pool } from '../pool/pool.js';
import type { ServerConnection, ServerLink } from '../pool/server-connection.js';
import type { Scheduler, Waiter } from '../scheduler/scheduler.js';
import type { Grant, Ticket } from '../scheduler/scheduler-nodes.js';
import type { IsolationConfig } from '../config/types.js';
import { classOfMessage } from './classify.js';
import { paramSyncQuery, TRACKED_PARAMS } from './params.js';
import { PreparedStatements } from './prepared-statements.js';
import type { StatementRegistry } from './statement-registry.js';

/** Every message type a client may send after login; CopyData is the only one relayed without a look. */
const CLIENT_TYPES = [
  Frontend.Bind, Frontend.Close, Frontend.CopyDone, Frontend.CopyFail, Frontend.Describe, Frontend.Execute,
  Frontend.Flush, Frontend.FunctionCall, Frontend.Parse, Frontend.Password, Frontend.Query, Frontend.Sync,
  Frontend.Terminate,
];
const KNOWN = new Uint8Array(256);
for (const t of CLIENT_TYPES) KNOWN[t] = 1;
KNOWN[Frontend.CopyData] = 1;
/** Types the scanner shows to onMessage: all but CopyData, so an unknown type is refused here instead of relayed to Postgres. */
const INSPECTED = Array.from({ length: 256 }, (_, t) => t).filter((t) => t !== Frontend.CopyData);

export interface SessionContext {
  clock: Clock;
  log: Logger;
  scheduler: Scheduler;
  /** The isolation settings in force (they change on reload). */
  isolation(): IsolationConfig;
  /** Named prepared statements of all clients, shared by content. */
  statements: StatementRegistry;
  /** Called once when the session ends, so the owner can forget it. */
  closed(session: ClientSession): void;
}

export interface SessionIdentity {
  id: number;
  user: string;
  database: string;
  pid: number;
  secret: number;
  /** Decided at login by the tenant rules. */
  tenant: string;
  /** The class the config rules give this session (application_name, user, database), or null. */
  ruleClass: string | null;
}

export class ClientSession implements FrameSink, ServerLink, Waiter {
  // Waiter: queued (ticket), holding a slot (grant), or granted and waiting for a connection (list).
  prev: Waiter | null = null;
  next: Waiter | null = null;
  list: List<Waiter> | null = null;
  ticket: Ticket<Waiter> | null = null;
  grant: Grant<Waiter> | null = null;
  /** The query class of the transaction being admitted or run. */
  txClass = 'default';

  server: ServerConnection | null = null;
  lastActivity: number;
  /** When the server last reported an open transaction with nothing in flight (for idle_transaction_timeout). */
  idleInTxSince = 0;
  readonly connectedAt: number;

  private readonly scanner: FrameScanner;
  /** Renames the client's named prepared statements; null where server connections never change hands. */
  private readonly prepared: PreparedStatements | null;
  /** Frames that arrived before a server was linked. */
  private pending: Buffer[] = [];
  /** Requests (Query, Sync, FunctionCall) sent whose ReadyForQuery has not come back. */
  private awaitingReady = 0;
  /** Extended-protocol messages sent since the last Sync: the server owes no ReadyForQuery for them yet. */
  private extendedOpen = false;
  /** After a rejected transaction start, Postgres semantics: drop input until Sync. */
  private discardUntilSync = false;
  /** Session parameters the client wants, by lower-case name. */
  private readonly params: Map<string, string>;
  private syncing = false;
  private ended = false;

  constructor(
    readonly socket: net.Socket,
    readonly ident: SessionIdentity,
    /** Changes only between transactions, when a reload replaced the pool (see currentPool). */
    public pool: Pool,
    private readonly ctx: SessionContext,
    startupParams: Map<string, string>,
    private readonly maxPacketSize: number,
  ) {
    this.connectedAt = this.lastActivity = ctx.clock.now();
    // Start from the pool's defaults so a value another client left on a server is put back.
    this.params = new Map();
    for (const [k, v] of pool.params ?? []) if (TRACKED_PARAMS.has(k.toLowerCase())) this.params.set(k.toLowerCase(), v);
    for (const [k, v] of startupParams) if (TRACKED_PARAMS.has(k.toLowerCase())) this.params.set(k.toLowerCase(), v);
    this.scanner = new FrameScanner(this, INSPECTED, maxPacketSize);
    const s = pool.settings;
    this.prepared = s.mode === 'transaction' && s.maxPreparedStatements > 0 ? new PreparedStatements(ctx.statements, this) : null;
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', () => undefined);
    socket.on('close', () => this.onSocketClose());
  }

  get state(): 'idle' | 'waiting' | 'active' {
    return this.server ? 'active' : this.ticket || this.list ? 'waiting' : 'idle';
  }

  /** ParameterStatus values this client should be told at login: the pool's, with its own choices on top. */
  welcomeParams(): Map<string, string> {
    const out = new Map(this.pool.params ?? []);
    for (const [k, v] of out) {
      const mine = this.params.get(k.toLowerCase());
      if (mine !== undefined) out.set(k, mine);
    }
    return out;
  }

  /** Bytes that followed the startup packet in the same read. */
  feed(chunk: Buffer): void {
    this.onData(chunk);
  }

  private onData(chunk: Buffer): void {
    this.lastActivity = this.ctx.clock.now();
    // One write per chunk however many messages it holds: cork the server socket while scanning.
    const out = this.server?.socket;
    out?.cork();
    this.scanner.feed(chunk);
    out?.uncork();
    if (!this.server && !this.ticket && !this.list && this.pending.length > 0 && !this.ended) {
      this.pool = this.currentPool();
      this.ctx.scheduler.acquire(this, this.ident.tenant, this.txClass);
    }
  }

  /** No server is linked here, so following a reload's replacement pool moves the next transaction to the new server. */
  private currentPool(): Pool {
    while (this.pool.successor) this.pool = this.pool.successor;
    return this.pool;
  }

  onMessage(type: number, buf: Buffer, start: number, end: number): boolean {
    if (!this.admit(type, buf, start, end)) return false;
    // Renamed on its way to a linked server; messages still waiting are renamed when flushPending sends them.
    return this.prepared && this.server && !this.syncing ? this.prepared.send(type, buf, start, end) : true;
  }

  private admit(type: number, buf: Buffer, start: number, end: number): boolean {
    // The first message of a transaction decides its class; later ones never queue.
    if (this.pending.length === 0 && !this.server && !this.ticket && !this.list) {
      this.txClass = classOfMessage(this.ctx.isolation(), this.ident.ruleClass, type, buf, start, end);
    }
    if (this.discardUntilSync) {
      if (type === Frontend.Sync) this.endDiscard();
      return false;
    }
    switch (type) {
      case Frontend.Query:
      case Frontend.FunctionCall:
        this.awaitingReady++;
        return true;
      case Frontend.Sync:
        this.awaitingReady++;
        this.extendedOpen = false;
        return true;
      case Frontend.Parse:
      case Frontend.Bind:
      case Frontend.Describe:
      case Frontend.Execute:
      case Frontend.Close:
        this.extendedOpen = true;
        return true;
      case Frontend.Terminate:
        this.terminate();
        return false;
      case Frontend.Password:
        this.fail(poolerError('SLUICE_BAD_PACKET', { reason: 'password message outside authentication' }));
        return false;
      default:
        if (KNOWN[type] === 1) return true;
        this.fail(poolerError('SLUICE_UNKNOWN_MESSAGE', { type: describeType(type) }));
        return false;
    }
  }

  forward(buf: Buffer, start: number, end: number): void {
    if (this.discardUntilSync || this.ended) return;
    const part = start === 0 && end === buf.length ? buf : buf.subarray(start, end);
    if (this.server && !this.syncing) this.server.write(part);
    else this.pending.push(part);
  }

  onFrameError(reason: 'length' | 'too_large', length: number): void {
    this.fail(
      reason === 'too_large'
        ? poolerError('SLUICE_PACKET_TOO_LARGE', { size: length, max: this.maxPacketSize })
        : poolerError('SLUICE_BAD_PACKET', { reason: `message length ${length} is below the minimum of 4` }),
    );
  }

  // Waiter

  granted(conn: ServerConnection): void {
    if (this.ended) return this.pool.release(conn);
    this.server = conn;
    conn.attach(this, this.prepared?.replies);
    this.prepared?.attach(conn, this.pool);
    // Session mode too: startup parameters never reach a pooled server's own startup packet.
    const sync = paramSyncQuery(this.params, conn);
    if (!sync) return this.flushPending();
    this.syncing = true;
    conn.runInternal(sync, (err) => {
      this.syncing = false;
      if (err && !conn.closed) this.ctx.log.warn({ client: this.ident.id, err }, 'could not apply session parameters');
      // Adopt the server's spelling ('iso' comes back as 'ISO, MDY'), or every later grant would re-apply it.
      if (!err) for (const [name, mine] of this.params) this.params.set(name, conn.values.get(name) ?? mine);
      if (!conn.closed && !this.ended) this.flushPending();
    });
  }

  rejected(err: PoolerError): void {
    this.pending = [];
    this.sendError(err);
    if (err.fatal) return;
    // Each request already sent gets its own error and ReadyForQuery; an unsynced batch waits for its Sync.
    for (let i = 1; i < this.awaitingReady; i++) this.socket.write(encode.errorResponse(fieldsOf(err)));
    for (let i = 0; i < this.awaitingReady; i++) this.socket.write(encode.ReadyForQueryIdle);
    this.awaitingReady = 0;
    if (this.extendedOpen) {
      this.extendedOpen = false;
      this.discardUntilSync = true;
    }
  }

  private endDiscard(): void {
    this.discardUntilSync = false;
    this.socket.write(encode.ReadyForQueryIdle);
  }

  private flushPending(): void {
    const conn = this.server;
    if (!conn) return;
    const parts = this.pending;
    this.pending = [];
    if (this.prepared && parts.length > 0) this.prepared.sendAll(parts);
    else if (parts.length === 1) conn.write(parts[0]);
    else if (parts.length > 1) conn.write(Buffer.concat(parts));
  }

  // ServerLink

  batch(on: boolean): void {
    if (on) this.socket.cork();
    else this.socket.uncork();
  }

  serverData(buf: Buffer, start: number, end: number): void {
    this.socket.write(start === 0 && end === buf.length ? buf : buf.subarray(start, end));
  }

  serverReady(count: number, status: number): void {
    this.awaitingReady -= count;
    if (this.awaitingReady < 0) this.awaitingReady = 0;
    const quiet = this.awaitingReady === 0 && !this.extendedOpen;
    this.idleInTxSince = quiet && status !== TxStatus.Idle ? this.ctx.clock.now() : 0;
    if (quiet && status === TxStatus.Idle && this.pool.settings.mode === 'transaction') this.releaseServer();
  }

  serverParameter(name: string, value: string): void {
    const key = name.toLowerCase();
    if (TRACKED_PARAMS.has(key)) this.params.set(key, value);
  }

  serverClosed(reason: string, fatalSent: boolean): void {
    this.server = null;
    this.prepared?.detach();
    this.ctx.scheduler.release(this);
    if (this.ended) return;
    if (!fatalSent) this.sendError(poolerError('SLUICE_SERVER_CONNECTION_LOST', { reason }));
    else this.close();
  }

  private releaseServer(): void {
    const conn = this.server;
    if (!conn) return;
    this.server = null;
    this.prepared?.detach();
    // Connection first, then the slot: the next grant for this pool finds the connection idle.
    this.pool.release(conn);
    this.ctx.scheduler.release(this);
  }

  /** The client is leaving: hand the server back only if it is provably clean, else roll back or close it. */
  private handBack(): void {
    const conn = this.server;
    if (!conn) return this.ctx.scheduler.release(this);
    this.server = null;
    this.prepared?.detach();
    conn.detach();
    if (this.syncing || this.awaitingReady > 0 || this.extendedOpen) conn.close('client left mid-request');
    else this.returnClean(conn);
    // After the connection is closed or on its way back, so the next grant sees the room.
    this.ctx.scheduler.release(this);
  }

  private returnClean(conn: ServerConnection): void {
    const session = this.pool.settings.mode === 'session';
    if (conn.status === TxStatus.Idle) return session ? this.pool.releaseWithReset(conn) : this.pool.release(conn);
    conn.runInternal('ROLLBACK', (err) => {
      if (err || conn.status !== TxStatus.Idle) return conn.close('rollback after client left failed');
      return session ? this.pool.releaseWithReset(conn) : this.pool.release(conn);
    });
  }

  /** Cancel from a CancelRequest: forward to the linked backend, or take the waiter out of its queue. */
  cancel(forward: (conn: ServerConnection) => void): void {
    if (this.server) return forward(this.server);
    const since = this.ticket?.enqueuedAt ?? this.grant?.ticket.enqueuedAt;
    if (since !== undefined && this.ctx.scheduler.cancel(this)) {
      const who = { tenant: this.ident.tenant, cls: this.txClass, pool: this.pool.name };
      this.rejected(poolerError('SLUICE_CANCELED_WHILE_QUEUED', { ...who, waitedMs: this.ctx.clock.now() - since }));
    }
  }

  sendError(err: PoolerError): void {
    if (this.ended) return;
    this.socket.write(encode.errorResponse(fieldsOf(err)));
    if (err.fatal) this.close();
  }

  /** Protocol violation: tell the client and drop it. */
  fail(err: PoolerError): void {
    this.scanner.fail();
    this.ctx.log.info({ client: this.ident.id, user: this.ident.user, db: this.ident.database, code: err.code }, err.message);
    this.sendError(err);
    this.close();
  }

  private terminate(): void {
    this.scanner.fail();
    this.close();
  }

  /** Ends the session; the socket's close event finishes the cleanup. */
  close(): void {
    if (!this.socket.destroyed) this.socket.end();
    this.cleanup();
  }

  private onSocketClose(): void {
    this.cleanup();
  }

  private cleanup(): void {
    if (this.ended) return;
    this.ended = true;
    this.scanner.fail();
    this.ctx.scheduler.cancel(this);
    this.handBack();
    this.prepared?.close();
    this.pending = [];
    this.ctx.closed(this);
  }
}

function fieldsOf(err: PoolerError): encode.ErrorFields {
  return { severity: err.severity, sqlstate: err.sqlstate, message: err.message, detail: err.detail };
}

function describeType(type: number): string {
  return type >= 0x20 && type < 0x7f ? `'${String.fromCharCode(type)}'` : `0x${type.toString(16).padStart(2, '0')}`;
}
