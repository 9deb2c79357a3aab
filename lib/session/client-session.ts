// One authenticated client from its first query to Terminate: buffers a transaction's first frames, waits for a server, relays.
import type net from 'node:net';
import { Frontend, TxStatus } from '../protocol/codes.js';
import { FrameScanner, interestTable, type FrameSink } from '../protocol/framing.js';
import { namesStatement } from '../protocol/statement-frames.js';
import * as encode from '../protocol/encode.js';
import { poolerError, type PoolerError } from '../errors.js';
import type { List } from '../list.js';
import type { Pool } from '../pool/pool.js';
import type { ServerConnection, ServerLink } from '../pool/server-connection.js';
import type { Waiter } from '../scheduler/scheduler.js';
import type { Grant, Ticket } from '../scheduler/queue/queue-nodes.js';
import { ClientParams } from './state/params.js';
import { TransactionShape } from './classify/transaction-shape.js';
import { RequestLedger } from './relay/request-ledger.js';
import { INSPECTED_CLIENT_TYPES, refusalOf } from './client-messages.js';
import { TransactionTiming } from './transaction-timing.js';
import { CONSUMED, PASS, StateGuard, type GuardHost, type GuardVerdict } from './state/state-guard.js';
import { Held, HeldInput } from './relay/held-input.js';
import { FlowControl } from './relay/flow-control.js';
import { ClientWriter } from './relay/client-writer.js';
import { PreparedStatements } from './prepared/prepared-statements.js';
import { FirstFrames, type SyncFailure } from './first-frames.js';
import type { SessionContext, SessionIdentity } from './session-context.js';

/** Built once: every session's scanner shares it. */
const INSPECTED = interestTable(INSPECTED_CLIENT_TYPES);
/** Message types that stream through when larger than pkt_buf, instead of being gathered whole (see gatherWhole). */
const STREAMED = [Frontend.Query, Frontend.Parse, Frontend.Bind];

export class ClientSession implements FrameSink, ServerLink, Waiter, GuardHost {
  // Waiter: queued (ticket), holding a slot (grant), or granted and waiting for a connection (list).
  prev: Waiter | null = null;
  next: Waiter | null = null;
  list: List<Waiter> | null = null;
  ticket: Ticket<Waiter> | null = null;
  grant: Grant<Waiter> | null = null;
  /** The class and learned-lane key of the transaction being admitted or run. */
  private readonly shape = new TransactionShape();

  server: ServerConnection | null = null;
  lastActivity: number;
  /** When the server last reported an open transaction with nothing in flight (for idle_transaction_timeout). */
  idleInTxSince = 0;
  readonly connectedAt: number;
  /** Why the session ended, for the disconnect log line; set by whoever ends it. */
  private closeReason = 'client closed the connection';

  private readonly scanner: FrameScanner;
  /** Renames the client's named prepared statements; null where server connections never change hands. */
  private readonly prepared: PreparedStatements | null;
  /** Frames that arrived before a server was linked. */
  private readonly first: FirstFrames;
  /** What the server owes this client. */
  private readonly owed = new RequestLedger();
  /** Session parameters the client wants. */
  private readonly params: ClientParams;
  private ended = false;
  /** The server asked for COPY FROM STDIN and the client has not sent CopyDone or CopyFail: its stream is mid-COPY. */
  private copyIn = false;
  /** The transaction ended while the client's stream was mid-message or mid-COPY: release once it is between messages. */
  private releaseAtBoundary = false;
  /** An exception escaped this session's handling: its server connection's state is unknown. */
  private faulted = false;
  /** A FATAL of Sluice's own that waits for the server's message being relayed to end (see sendError). */
  private errorAtBoundary: PoolerError | null = null;
  /** This transaction's first frames already went to a second server after the first died unanswered. */
  private retried = false;
  /** Shutdown asked this client to leave as soon as its running transaction ends (see serverReady). */
  private leaving: PoolerError | null = null;
  private readonly timing = new TransactionTiming();
  /** The transaction status the client was last told. */
  clientStatus: number = TxStatus.Idle;
  private readonly guard: StateGuard;
  /** Input waits while the guard talks to the server or the hub. */
  private readonly input = new HeldInput();
  /** Every write to the client goes through it, so relayed bytes and the pooler's own frames keep their order. */
  private readonly out: ClientWriter;
  /** Backpressure both ways: which socket is read, so what is buffered for this client stays near pkt_buf. */
  private readonly flow: FlowControl;
  /** Bytes still to come of a streaming message whose head was dropped; they are dropped too. */
  private dropRest = 0;

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
    this.out = new ClientWriter(socket);
    this.params = new ClientParams(pool.params, startupParams);
    this.scanner = new FrameScanner(this, INSPECTED, maxPacketSize);
    this.scanner.setStreaming(STREAMED, pool.settings.pktBuf);
    this.flow = new FlowControl(socket);
    this.guard = new StateGuard(this, ctx.guard);
    const s = pool.settings;
    this.prepared = s.mode === 'transaction' && s.maxPreparedStatements > 0 ? new PreparedStatements(ctx.statements, this) : null;
    const guard = this.guard;
    this.first = new FirstFrames(
      this.params,
      this.prepared,
      {
        stillLinked: (conn) => this.server === conn && !conn.closed && !this.ended,
        sending: () => {
          if (this.shape.measureLatency && this.owed.awaiting > 0) this.owed.startClock(this.ctx.clock.now());
          this.flowCheck();
        },
        syncFailed: (err) => this.ctx.log.warn({ client: this.ident.id, err }, 'could not apply session parameters'),
        get asksSequenceCache() {
          return guard.asksSequenceCache;
        },
      },
      s.mode === 'transaction',
    );
    // The fault boundary for client input: whatever throws while it is handled ends this client, not the process.
    ctx.reader.read(socket, (chunk: Buffer) => {
      try {
        this.onData(chunk);
      } catch (err) {
        this.crash(err, 'client input');
      }
    });
    socket.on('error', () => undefined);
    socket.on('close', () => {
      try {
        this.cleanup();
      } catch (err) {
        this.crash(err, 'client close');
      }
    });
    socket.on('drain', () => this.flow.clientDrained(this.server));
  }

  /** Named prepared statements the client holds (0 where they are not tracked). */
  get preparedCount(): number {
    return this.prepared?.count ?? 0;
  }

  get state(): 'idle' | 'waiting' | 'active' {
    return this.server ? 'active' : this.ticket || this.list ? 'waiting' : 'idle';
  }

  /** When the transaction now waiting for a server was queued, or null. */
  get waitingSince(): number | null {
    return this.server ? null : (this.ticket?.enqueuedAt ?? (this.list && this.grant ? this.grant.ticket.enqueuedAt : null));
  }

  /** When the running query reached its server (-1: none running), for query_timeout. */
  get querySince(): number {
    return this.server ? this.timing.querySince : -1;
  }

  /** When the open transaction began on its server (-1: none open), for transaction_timeout. */
  get transactionSince(): number {
    return this.server ? this.timing.transactionSince : -1;
  }

  /** The query class of the transaction being admitted or run. */
  get txClass(): string {
    return this.shape.cls;
  }

  /** Bytes Sluice holds for this client: unsent to it, waiting for a server or held, gathered, unsent to its server. */
  get bufferedBytes(): number {
    const toServer = this.server?.socket.writableLength ?? 0;
    return this.socket.writableLength + this.first.bytes + this.input.bytes + this.scanner.pendingBytes + toServer;
  }

  /** Reading from the client, or from its server for it, is paused by backpressure. */
  get readingPaused(): boolean {
    return this.flow.paused || (this.server?.readingPaused ?? false);
  }

  get applicationName(): string {
    return this.params.get('application_name') ?? '';
  }

  /** ParameterStatus values this client should be told at login: the pool's, with its own choices on top. */
  welcomeParams(): Map<string, string> {
    return this.params.welcome(this.pool.params);
  }

  /** Bytes that followed the startup packet in the same read. */
  feed(chunk: Buffer): void {
    this.onData(chunk);
  }

  private onData(chunk: Buffer): void {
    this.lastActivity = this.ctx.clock.now();
    this.pool.stats.bytesReceived += chunk.length;
    // One write per chunk however many messages it holds: cork the server socket while scanning.
    const out = this.server?.socket;
    out?.cork();
    this.scanner.feed(chunk);
    out?.uncork();
    if (this.releaseAtBoundary) this.releaseIfBetweenMessages();
    this.acquireIfPending();
    this.flowCheck();
  }

  /** Reads from the client or not, as what waits for a server and the server's socket allow (see FlowControl.update). */
  private flowCheck(): void {
    if (!this.ended) this.flow.update(this.first.bytes + this.input.bytes, this.server, this.pool.settings.pktBuf);
  }

  private acquireIfPending(): void {
    if (!this.server && !this.ticket && !this.list && !this.first.empty && !this.ended) {
      this.pool = this.currentPool();
      this.scanner.setStreaming(STREAMED, this.pool.settings.pktBuf);
      this.ctx.scheduler.acquire(this, this.ident.tenant, this.shape.cls);
    }
  }

  /** No server is linked here, so following a reload's replacement pool moves the next transaction to the new server. */
  private currentPool(): Pool {
    while (this.pool.successor) this.pool = this.pool.successor;
    return this.pool;
  }

  onMessage(type: number, buf: Buffer, start: number, end: number): boolean {
    if (this.input.held) {
      this.input.keep(buf.subarray(start, end), Held.Message);
      return false;
    }
    if (!this.admit(type, buf, start, end)) return false;
    // Renamed on its way to a linked server; messages still waiting are renamed when FirstFrames sends them.
    if (!this.prepared || !this.server || this.first.syncing) return true;
    if (this.prepared.send(type, buf, start, end)) return true;
    // Sent in another form: the client's own message is what a retry would send again.
    this.first.alsoSent(buf, start, end);
    return false;
  }

  /** A named Parse or Bind larger than pkt_buf is gathered whole where Sluice renames prepared statements. */
  gatherWhole(type: number, buf: Buffer, start: number, end: number): boolean {
    return this.prepared !== null && namesStatement(type, buf, start, end);
  }

  /**
   * The head of a Query, Parse or Bind larger than pkt_buf (see FrameScanner.setStreaming): it streams through,
   * so the state guard never sees a whole statement text, and its server connection is closed after the
   * transaction instead of reused.
   */
  onHead(type: number, buf: Buffer, start: number, end: number): boolean {
    if (this.input.held) {
      this.input.keep(buf.subarray(start, end), Held.Head);
      return false;
    }
    this.classify(type, buf, start, end);
    const pass = !this.owed.discarding && this.streamed(type, buf, start, end);
    // What follows of a dropped head never reaches the server either.
    if (!pass) this.dropRest = buf.readInt32BE(start + 1) + 1 - (end - start);
    return pass;
  }

  private streamed(type: number, buf: Buffer, start: number, end: number): boolean {
    if (type === Frontend.Bind) this.guard.statementUse(type, buf, start);
    else this.guard.unscanned();
    if (type === Frontend.Query) this.requestSent();
    else this.owed.open = true;
    return this.prepared && this.server && !this.first.syncing ? this.prepared.sendHead(type, buf, start, end) : true;
  }

  /** The first message of a transaction decides its class; later ones never queue. */
  private classify(type: number, buf: Buffer, start: number, end: number): void {
    if (this.first.empty && !this.server && !this.ticket && !this.list) {
      this.shape.decide(this.ctx.isolation(), this.ident.ruleClass, this.ctx.lanes, type, buf, start, end);
    }
  }

  private admit(type: number, buf: Buffer, start: number, end: number): boolean {
    this.classify(type, buf, start, end);
    if (this.owed.discarding) {
      if (type === Frontend.Sync) this.endDiscard();
      return false;
    }
    // Any message but these ends the client's COPY data, as Postgres ends copy-in mode on it.
    if (this.copyIn && type !== Frontend.Flush && type !== Frontend.Sync) this.copyIn = false;
    switch (type) {
      case Frontend.Query:
        return this.guarded(type, this.guard.inspect(type, buf, start, end));
      case Frontend.FunctionCall:
        this.requestSent();
        return true;
      case Frontend.Sync:
        this.requestSent();
        this.owed.open = false;
        return true;
      case Frontend.Parse:
        return this.guarded(type, this.guard.inspect(type, buf, start, end));
      case Frontend.Bind:
      case Frontend.Close:
        this.guard.statementUse(type, buf, start);
        this.owed.open = true;
        return true;
      case Frontend.Describe:
      case Frontend.Execute:
        this.owed.open = true;
        return true;
      case Frontend.Terminate:
        this.terminate();
        return false;
      default: {
        const refusal = refusalOf(type);
        if (refusal) this.fail(refusal);
        return refusal === null;
      }
    }
  }

  /** A request that owes a ReadyForQuery: starts the query clock (SHOW STATS) and the latency sample. */
  private requestSent(): void {
    if (!this.owed.request() || !this.server) return;
    this.timing.busy(this.lastActivity);
    // Queued requests start the latency clock when FirstFrames sends them instead.
    if (this.shape.measureLatency) this.owed.startClock(this.lastActivity);
  }

  /** Acts on the guard's verdict for a Query or Parse: pass it, drop it (answered), or send its replacement. */
  private guarded(type: number, v: GuardVerdict): boolean {
    if (v === CONSUMED) return false;
    if (type === Frontend.Query) this.requestSent();
    else this.owed.open = true;
    if (v === PASS) return true;
    this.forward(v, 0, v.length);
    return false;
  }

  forward(buf: Buffer, start: number, end: number): void {
    if (this.dropRest > 0) {
      const n = Math.min(this.dropRest, end - start);
      this.dropRest -= n;
      start += n;
      if (start === end) return;
    }
    if (this.owed.discarding || this.ended) return;
    // Waiting for a server (the usual case under load): kept as a range of the chunk, with no view per message.
    if (!this.input.held && (!this.server || this.first.syncing)) return this.first.keep(buf, start, end);
    const part = start === 0 && end === buf.length ? buf : buf.subarray(start, end);
    if (this.input.held) return this.input.keep(part, Held.Bytes);
    this.first.alsoSent(part);
    (this.server as ServerConnection).write(part);
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
    // The scheduler calls in from another client's release: a throw here must end this client, not that one.
    try {
      this.linkServer(conn);
    } catch (err) {
      if (this.server !== conn) conn.close('the client session failed with an internal error');
      this.crash(err, 'server granted');
    }
  }

  private linkServer(conn: ServerConnection): void {
    if (this.ended) return this.pool.release(conn);
    this.server = conn;
    conn.attach(this, this.prepared?.replies);
    this.prepared?.attach(conn, this.pool);
    const now = this.ctx.clock.now();
    this.timing.linked(this.pool.stats, now, now - (this.grant?.ticket.enqueuedAt ?? now), this.owed.awaiting > 0);
    this.first.link(conn);
  }

  rejected(err: PoolerError): void {
    try {
      this.reject(err);
    } catch (again) {
      this.crash(again, 'rejection');
    }
  }

  private reject(err: PoolerError): void {
    this.first.clear();
    this.flowCheck();
    if (err.fatal) return this.sendError(err);
    // One write for the error and its ReadyForQuery: under overload, rejections are most of what is sent.
    this.socket.cork();
    // Each request already sent gets its own error and ReadyForQuery, in turn; an unsynced batch waits for its Sync.
    const n = this.owed.reject();
    this.sendError(err);
    if (n > 0) this.ready(TxStatus.Idle);
    for (let i = 1; i < n; i++) {
      this.out.error(err);
      this.ready(TxStatus.Idle);
    }
    this.socket.uncork();
  }

  private endDiscard(): void {
    this.owed.discarding = false;
    this.ready(this.server?.status ?? TxStatus.Idle);
  }

  /** ReadyForQuery that Sluice itself answers; notifications queued for an idle client follow it. */
  ready(status: number): void {
    this.clientStatus = status;
    this.out.send(encode.readyForQuery(status));
    this.guard.flush();
  }

  /** Handles what came in while input was held, in arrival order, until something holds it again. */
  resume(): void {
    this.input.release((buf, kind) => {
      if (kind === Held.Bytes) return this.forward(buf, 0, buf.length);
      const pass = kind === Held.Message ? this.onMessage(buf[0], buf, 0, buf.length) : this.onHead(buf[0], buf, 0, buf.length);
      if (pass) this.forward(buf, 0, buf.length);
    });
    this.flowCheck();
    if (this.input.held) return;
    this.acquireIfPending();
    this.guard.flush();
  }

  // GuardHost: the session as the state guard sees it (the session itself, so no per-session view object).

  get quiet(): boolean {
    return this.owed.quiet && !this.input.held && !this.first.inFlight && !this.owed.discarding && this.first.empty;
  }

  toClient(frame: Buffer): void {
    if (!this.ended) this.out.send(frame);
  }

  hold(): void {
    this.input.held = true;
  }

  skipToSync(): void {
    this.owed.discarding = true;
  }

  /** The transaction is over, but its connection may hold state nobody saw: closed instead of pooled. */
  closeServer(reason: string): void {
    const conn = this.server;
    if (!conn) return;
    this.server = null;
    this.prepared?.detach();
    conn.detach();
    conn.close(reason);
    this.ctx.scheduler.release(this);
    this.flowCheck();
  }

  // ServerLink

  batch(on: boolean): void {
    if (on) this.out.begin();
    else {
      this.out.finish();
      if (this.server) this.flow.relayed(this.server, this.pool.settings.pktBuf);
    }
  }

  serverDrained(): void {
    this.flowCheck();
  }

  serverData(buf: Buffer, start: number, end: number): void {
    this.pool.stats.bytesSent += end - start;
    this.out.relay(buf, start, end);
  }

  serverReady(count: number, status: number): void {
    const now = this.ctx.clock.now();
    const latency = this.owed.answered(count, now);
    if (latency >= 0) this.ctx.scheduler.serverLatency(this, latency, this.shape.takeElasticShape());
    this.clientStatus = status;
    const quiet = this.owed.quiet;
    if (quiet) {
      this.first.forget();
      this.retried = false;
    }
    this.timing.ready(this.pool.stats, count, now, this.owed.awaiting === 0, quiet && status === TxStatus.Idle);
    this.idleInTxSince = quiet && status !== TxStatus.Idle ? now : 0;
    if (quiet && status === TxStatus.Idle && this.pool.settings.mode === 'transaction') {
      // Released only between messages of both streams: a CopyData half sent, or COPY data still coming after
      // the server's error, must reach this server (Postgres drops it), never the next one; the rest of a
      // message half relayed to this client must reach this client.
      // Stalled there, the client holds its server as if idle in a transaction: idle_transaction_timeout applies.
      if (this.midMessage()) {
        this.releaseAtBoundary = true;
        this.idleInTxSince = now;
      }
      // The guard keeps a pinned connection, or first asks the server whether state remains.
      else if (!this.server || !this.guard.transactionEnded(this.server)) this.releaseServer(now);
    }
    // Session mode: the connection stays, but a RESET must bring back the client's startup values.
    else if (quiet && status === TxStatus.Idle && this.server && !this.midMessage()) this.guard.sessionTransactionEnded(this.server);
    if (quiet) this.guard.flush();
    if (this.leaving && quiet && status === TxStatus.Idle) this.sendError(this.leaving);
  }

  serverParameter(name: string, value: string): void {
    this.params.set(name, value);
  }

  get customSettings(): ReadonlySet<string> {
    return this.params.customs;
  }

  useCustomSetting(name: string): void {
    this.params.useCustom(name);
  }

  settingsReadBack(values: ReadonlyMap<string, string>): void {
    this.params.readBack(values);
  }

  get startupSettings(): ReadonlyMap<string, string> {
    return this.params.own;
  }

  serverCopyIn(): void {
    this.copyIn = true;
  }

  serverBetweenMessages(): void {
    const err = this.errorAtBoundary;
    this.errorAtBoundary = null;
    if (err) return this.sendError(err);
    if (this.releaseAtBoundary) this.releaseIfBetweenMessages();
  }

  /** Either stream is inside a message (or the client's inside COPY data); asks the server to say when it no longer is. */
  private midMessage(): boolean {
    if (this.copyIn || this.scanner.midForward) return true;
    if (!this.server?.midMessage) return false;
    this.server.waitForBoundary();
    return true;
  }

  serverFault(err: unknown): void {
    this.crash(err, 'server output');
  }

  /** The deferred release of a transaction that ended mid-message (see serverReady), once the client's stream allows. */
  private releaseIfBetweenMessages(): void {
    if (this.midMessage()) return;
    this.releaseAtBoundary = false;
    this.idleInTxSince = 0;
    const conn = this.server;
    // Anything the client sent since (a new request, held input) keeps the link as usual.
    if (!conn || !this.quiet || conn.status !== TxStatus.Idle) return;
    if (!this.guard.transactionEnded(conn)) this.releaseServer();
    this.guard.flush();
  }

  serverClosed(reason: string, fatalSent: boolean, unanswered: boolean): void {
    this.server = null;
    this.guard.serverLost();
    this.prepared?.detach();
    if (unanswered && this.sendElsewhere(reason)) return;
    this.ctx.scheduler.release(this);
    this.flowCheck();
    if (this.ended) return;
    const refused = unanswered ? this.first.takeFailure() : null;
    // A client whose named statements moved with the lost frames cannot send them again: it starts afresh.
    if (refused && this.pool.settings.mode === 'transaction' && !this.prepared?.namesChanged) return this.settingRefused(refused);
    if (refused) reason = `could not apply session parameters: ${refused.message}`;
    if (!fatalSent) this.sendError(poolerError('SLUICE_SERVER_CONNECTION_LOST', { reason }));
    else this.close(`server connection lost: ${reason}`);
  }

  /**
   * The server died before answering the frames that started this transaction, and was sent nothing else:
   * they queue again for another server, once. The client sees nothing of it.
   */
  private sendElsewhere(reason: string): boolean {
    if (this.ended || this.retried || this.pool.settings.mode !== 'transaction' || this.clientStatus !== TxStatus.Idle) return false;
    if (this.prepared?.namesChanged || !this.first.resend()) return false;
    this.retried = true;
    this.ctx.log.info(
      { client: this.ident.id, pool: this.pool.name, reason },
      'server connection died before answering; the transaction goes to another',
    );
    this.ctx.scheduler.release(this);
    this.acquireIfPending();
    return true;
  }

  /**
   * The client's settings could not be applied, here and on another connection: nothing of the transaction ran.
   * Each request gets the error, as if refused in the queue; the setting Postgres named no longer follows the
   * client, so its next transaction runs (with the pool's value for it).
   */
  private settingRefused(f: SyncFailure): void {
    const setting = /parameter "([^"]+)"/.exec(f.message)?.[1] ?? '';
    if (setting) this.params.forget(setting);
    this.retried = false;
    this.ctx.log.warn(
      { client: this.ident.id, pool: this.pool.name, setting, err: f.message },
      'session setting refused on two server connections: the transaction gets the error, the setting no longer follows the client',
    );
    this.reject(poolerError('SLUICE_SETTING_NOT_APPLIED', { setting: setting || '(unknown)', sqlstate: f.sqlstate, message: f.message }));
  }

  releaseServer(now = this.ctx.clock.now()): void {
    const conn = this.server;
    if (!conn) return;
    this.server = null;
    // The wait for a server login is the pool's, not the statement's: it is not learned as hold time.
    if (this.grant) this.shape.observe(this.ctx.lanes, now - this.grant.dispatchedAt - this.grant.unchargedMs);
    this.prepared?.detach();
    // Connection first, then the slot: the next grant for this pool finds the connection idle.
    this.pool.release(conn);
    this.ctx.scheduler.release(this);
    this.flowCheck();
  }

  /** The client is leaving: hand the server back only if it is provably clean, else roll back or close it. */
  private handBack(): void {
    const conn = this.server;
    if (!conn) return this.ctx.scheduler.release(this);
    this.server = null;
    this.prepared?.detach();
    conn.detach();
    if (this.faulted) conn.close('the client session failed with an internal error');
    else if (this.first.inFlight || this.guard.isBusy || !this.owed.quiet || this.scanner.midForward || conn.midMessage) {
      conn.close('client left mid-request');
    } else if (!this.guard.leave(conn)) this.pool.releaseAfterClient(conn);
    // After the connection is closed or on its way back, so the next grant sees the room.
    this.ctx.scheduler.release(this);
  }

  /** Cancel from a CancelRequest: forward to the linked backend, or take the waiter out of its queue. */
  cancel(forward: (conn: ServerConnection) => void): void {
    if (this.server) return forward(this.server);
    const since = this.ticket?.enqueuedAt ?? this.grant?.ticket.enqueuedAt;
    if (since !== undefined && this.ctx.scheduler.cancel(this)) {
      const who = { tenant: this.ident.tenant, cls: this.shape.cls, pool: this.pool.name };
      this.rejected(poolerError('SLUICE_CANCELED_WHILE_QUEUED', { ...who, waitedMs: this.ctx.clock.now() - since }));
    }
  }

  sendError(err: PoolerError): void {
    if (this.ended) return;
    const server = this.server;
    if (err.fatal && server && !server.closed && server.midMessage) {
      // A server message is half relayed to this client: the error goes after it, never inside it.
      this.errorAtBoundary = err;
      return server.waitForBoundary();
    }
    this.out.error(err);
    if (err.fatal) this.close(`${err.code}: ${err.message}`);
  }

  /** Protocol violation: tell the client and drop it. */
  fail(err: PoolerError): void {
    this.scanner.fail();
    this.sendError(err);
  }

  /** Shutdown: leave at once between transactions; a running one may finish first (see serverReady). */
  drain(err: PoolerError): void {
    if (this.ended) return;
    const conn = this.server;
    if (conn && (!this.owed.quiet || this.first.inFlight || conn.status !== TxStatus.Idle)) {
      this.leaving = err;
      return;
    }
    // Queued work has not started: it is dropped, as PgBouncer's SHUTDOWN WAIT_FOR_SERVERS drops waiting clients.
    this.ctx.scheduler.cancel(this);
    this.sendError(err);
  }

  private terminate(): void {
    this.scanner.fail();
    this.close('client sent Terminate');
  }

  /** Ends the session; the socket's close event finishes the cleanup. */
  close(reason?: string): void {
    if (reason && !this.ended) this.closeReason = reason;
    this.out.flush();
    if (!this.socket.destroyed) this.socket.end();
    this.cleanup();
  }

  /**
   * The fault boundary's handler: an exception in this client's handling ends this client, with an
   * ErrorResponse and a log line, and closes its server connection, whose state is then unknown.
   */
  private crash(err: unknown, where: string): void {
    const { id, tenant, database: db, user } = this.ident;
    const reason = err instanceof Error ? err.message : String(err);
    this.ctx.log.error({ client: id, tenant, db, user, where, err }, 'internal error in a client session; the client is disconnected');
    this.ctx.sessionFault();
    this.faulted = true;
    try {
      if (this.ended) this.server?.close('the client session failed with an internal error');
      else this.fail(poolerError('SLUICE_INTERNAL', { reason }));
    } catch {
      // Even the orderly way out failed: cut both connections.
      this.server?.close('the client session failed with an internal error');
      this.socket.destroy();
    }
  }

  private cleanup(): void {
    if (this.ended) return;
    this.ended = true;
    const { id, tenant, database: db, user } = this.ident;
    const connectedMs = Math.round(this.ctx.clock.now() - this.connectedAt);
    this.ctx.log.info({ client: id, tenant, db, user, reason: this.closeReason, connectedMs }, 'client disconnected');
    this.scanner.fail();
    this.ctx.scheduler.cancel(this);
    this.handBack();
    this.guard.dispose();
    this.prepared?.close();
    this.first.clear();
    this.input.clear();
    this.ctx.closed(this.ident);
  }
}
