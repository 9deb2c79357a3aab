// One client's session state in transaction mode: applies session_state (pin, reject, allow), serves LISTEN/UNLISTEN from the notify hub, and queues notifications until the client idles.
import { Frontend, TxStatus } from '../protocol/codes.js';
import * as encode from '../protocol/encode.js';
import { poolerError } from '../errors.js';
import type { Logger } from '../log.js';
import type { SessionStatePolicy } from '../config/types.js';
import type { Pool } from '../pool/pool.js';
import type { ServerConnection } from '../pool/server-connection.js';
import type { NotifyHub, NotifySubscriber } from '../pool/notify-hub.js';
import { probeSessionState, type ProbeScope } from '../pool/state-probe.js';
import { scanSessionState, sqlTextEnd, sqlTextStart, StateHint } from './state-scan.js';
import type { ListenOp, StateEffect, StateParser } from './session-state.js';
import { TRACKED_PARAMS } from './params.js';
import { rejectionParse, rejectionQuery } from './state-rejection.js';

/** What the session does with the message it showed the guard. */
export const PASS = null;
export const CONSUMED = 1;
/** PASS, CONSUMED (answered here), or a replacement message to send instead. */
export type Verdict = typeof PASS | typeof CONSUMED | Buffer;

/** The session as the guard sees it. */
export interface GuardHost {
  readonly ident: { readonly id: number; readonly user: string; readonly database: string };
  readonly pool: Pool;
  readonly server: ServerConnection | null;
  /** Nothing sent and unanswered, no batch open, input not held. */
  readonly quiet: boolean;
  /** The transaction status the client was last told. */
  readonly clientStatus: number;
  toClient(frame: Buffer): void;
  /** Sluice's own ReadyForQuery; queued notifications follow it out. */
  ready(status: number): void;
  /** Stop and restart handling client input; messages that arrive meanwhile keep their order. */
  hold(): void;
  resume(): void;
  /** Skip client messages up to Sync, then answer ReadyForQuery (as after an error in a batch). */
  skipToSync(): void;
  /** The transaction is over and nothing is pinned: connection and slot go back. */
  releaseServer(): void;
}

export interface GuardContext {
  log: Logger;
  hub: NotifyHub;
  parser: StateParser;
  policy(database: string, user: string): SessionStatePolicy;
}

/** Notifications kept for a client that does not idle; beyond this the oldest are dropped (and logged). */
const MAX_INBOX = 10_000;
/** Distinct statements warned about per client under allow; later ones are not logged. */
const MAX_WARNED = 100;

export class StateGuard implements NotifySubscriber {
  /** Ask the server after this transaction whether state remains (to pin, or to unpin). */
  private probeAfter = false;
  private pinned: { conn: ServerConnection; pool: Pool } | null = null;
  /** Named or unnamed statements that would leave state each time they run, so Bind catches them. */
  private readonly stateful = new Map<string, StateEffect[]>();
  /** Channels this client LISTENs on through the hub. */
  private readonly channels = new Set<string>();
  private readonly inbox: Buffer[] = [];
  private dropped = 0;
  private readonly warned = new Set<string>();
  /** Custom settings (`app.user`) the client set: the probe must ask for them by name. */
  private readonly custom = new Set<string>();
  private busy = false;
  private disposed = false;

  constructor(
    private readonly host: GuardHost,
    private readonly ctx: GuardContext,
  ) {}

  /** A probe or hub round trip is running: the server connection must not be handed back as is. */
  get isBusy(): boolean {
    return this.busy;
  }

  /** Query and Parse: the hot path is one byte scan; the parser runs only on candidates. */
  inspect(type: number, buf: Buffer, start: number, end: number): Verdict {
    if (this.host.pool.settings.mode !== 'transaction') return PASS;
    const from = sqlTextStart(type, buf, start, end);
    if (from < 0) return PASS;
    const to = sqlTextEnd(buf, from, end);
    if (type === Frontend.Parse && this.stateful.size > 0) this.stateful.delete(statementName(buf, start));
    const hint = scanSessionState(buf, from, to);
    if (hint === StateHint.None) return PASS;
    if (hint & StateHint.Releases && this.pinned) this.probeAfter = true;
    if (!(hint & StateHint.Parse)) return PASS;
    const found = this.ctx.parser.classify(buf.toString('utf8', from, to));
    if (found.listenOps) {
      // A pinned connection may LISTEN itself (extended protocol): then UNLISTEN must reach it too.
      const serverListens = this.pinned !== null && found.listenOps.some((op) => !op.listen);
      if (type === Frontend.Query && !serverListens && this.canAnswerListen()) return this.listen(found.listenOps);
      // UNLISTEN that reaches the server anyway still ends the hub's deliveries.
      for (const op of found.listenOps) if (!op.listen) this.unlisten(op.channel);
    }
    if (found.effects.length === 0) return PASS;
    if (type === Frontend.Parse) this.stateful.set(statementName(buf, start), found.effects);
    return this.apply(type, buf, start, found.effects);
  }

  /** Bind of a statement remembered as stateful runs it again; Close of a statement forgets it. */
  statementUse(type: number, buf: Buffer, start: number): void {
    if (this.stateful.size === 0) return;
    if (type === Frontend.Close) {
      if (buf[start + 5] === 0x53 /* S */) this.stateful.delete(buf.toString('utf8', start + 6, buf.indexOf(0, start + 6)));
      return;
    }
    const portalEnd = buf.indexOf(0, start + 5);
    const effects = this.stateful.get(buf.toString('utf8', portalEnd + 1, buf.indexOf(0, portalEnd + 1)));
    if (effects && this.policy() === 'pin') this.probeAfter = true;
  }

  private policy(): SessionStatePolicy {
    return this.ctx.policy(this.host.ident.database, this.host.ident.user);
  }

  private apply(type: number, buf: Buffer, start: number, effects: StateEffect[]): Verdict {
    const policy = this.policy();
    if (policy === 'pin') {
      this.probeAfter = true;
      for (const e of effects) if (e.setting?.includes('.')) this.custom.add(e.setting.toLowerCase());
      return PASS;
    }
    if (policy === 'reject') return this.reject(type, buf, start, effects[0].statement);
    // Remembered per client, so a statement that repeats is named once; a client that makes up names gets a bounded set.
    const fresh = effects.filter((e) => !this.warned.has(e.statement));
    if (fresh.length > 0 && this.warned.size < MAX_WARNED) {
      for (const e of fresh) this.warned.add(e.statement);
      this.ctx.log.warn({ client: this.host.ident.id, user: this.host.ident.user, db: this.host.ident.database, statements: fresh.map((e) => e.statement) },
        'session state in transaction pooling stays on the server connection, where later clients may see it (session_state: allow)');
    }
    return PASS;
  }

  /**
   * Nothing of a rejected statement runs. Answered here when the client waits for nothing else; inside a
   * transaction block the server's transaction is aborted first, as a failed statement would abort it.
   * Behind other requests in flight, the server is made to fail it in order instead.
   */
  private reject(type: number, buf: Buffer, start: number, statement: string): Verdict {
    const err = poolerError('SLUICE_SESSION_STATE_REJECTED', { statement });
    const { host } = this;
    this.ctx.log.info({ client: host.ident.id, user: host.ident.user, db: host.ident.database, statement }, 'session-state statement rejected');
    const server = host.server;
    if (!host.quiet) return type === Frontend.Query ? rejectionQuery(err) : rejectionParse(statementName(buf, start), err);
    if (server && server.status === TxStatus.Failed) return PASS; // Postgres refuses it itself (25P02).
    const answer = (): void => {
      host.toClient(encode.errorResponse({ severity: 'ERROR', sqlstate: err.sqlstate, message: err.message }));
      if (type === Frontend.Query) host.ready(server?.status ?? TxStatus.Idle);
      else host.skipToSync();
    };
    if (!server || server.status === TxStatus.Idle) {
      answer();
      return CONSUMED;
    }
    this.hold();
    server.runInternal(ABORT_SQL, () => {
      if (!server.closed) answer();
      this.unhold();
    });
    return CONSUMED;
  }

  // LISTEN / UNLISTEN through the hub.

  private canAnswerListen(): boolean {
    const s = this.host.server?.status ?? TxStatus.Idle;
    return this.host.quiet && (s === TxStatus.Idle || s === TxStatus.InTransaction);
  }

  /** Subscribes in order, answering each statement as Postgres would, then ReadyForQuery. */
  private listen(ops: ListenOp[]): Verdict {
    const status = this.host.server?.status ?? TxStatus.Idle;
    const added: string[] = [];
    this.hold();
    const step = (i: number): void => {
      if (this.disposed) return;
      if (i === ops.length) return this.listenDone(status);
      const op = ops[i];
      if (!op.listen) {
        this.unlisten(op.channel);
        this.host.toClient(UNLISTEN_COMPLETE);
        return step(i + 1);
      }
      const channel = op.channel as string;
      if (this.channels.has(channel)) {
        this.host.toClient(LISTEN_COMPLETE);
        return step(i + 1);
      }
      this.channels.add(channel);
      this.ctx.hub.subscribe(this.host.pool, channel, this, (error) => {
        // The client left while its LISTEN was on its way.
        if (this.disposed) return void (error === null && this.ctx.hub.unsubscribe(this.host.pool.name, channel, this));
        if (error === null) {
          added.push(channel);
          this.host.toClient(LISTEN_COMPLETE);
          return step(i + 1);
        }
        // Like a failed multi-statement Query: what it had subscribed is undone.
        this.channels.delete(channel);
        for (const c of added) this.unlisten(c);
        const err = poolerError('SLUICE_LISTEN_FAILED', { channel, reason: error });
        this.host.toClient(encode.errorResponse({ severity: 'ERROR', sqlstate: err.sqlstate, message: err.message }));
        // Inside a transaction block a failed statement fails the transaction, on the server too.
        const server = this.host.server;
        if (server && status === TxStatus.InTransaction) server.runInternal(ABORT_SQL, () => this.listenDone(server.status));
        else this.listenDone(status);
      });
    };
    step(0);
    return CONSUMED;
  }

  private listenDone(status: number): void {
    this.host.ready(status);
    this.unhold();
  }

  private unlisten(channel: string | null): void {
    if (channel !== null) {
      if (this.channels.delete(channel)) this.ctx.hub.unsubscribe(this.host.pool.name, channel, this);
      return;
    }
    for (const c of this.channels) this.ctx.hub.unsubscribe(this.host.pool.name, c, this);
    this.channels.clear();
  }

  // Notifications: delivered while the client idles outside a transaction, else queued until its ReadyForQuery.

  notification(frame: Buffer): void {
    if (this.inbox.length === 0 && this.deliverable()) return this.host.toClient(frame);
    if (this.inbox.length >= MAX_INBOX) {
      this.inbox.shift();
      if (this.dropped++ === 0) this.ctx.log.warn({ client: this.host.ident.id, max: MAX_INBOX }, 'client does not idle: dropping its oldest queued notifications');
    }
    this.inbox.push(frame);
  }

  /** The session calls this whenever the client may have become idle. */
  flush(): void {
    if (this.inbox.length === 0 || !this.deliverable()) return;
    for (const frame of this.inbox.splice(0)) this.host.toClient(frame);
  }

  private deliverable(): boolean {
    return !this.busy && this.host.quiet && this.host.clientStatus === TxStatus.Idle;
  }

  // Pinning.

  /** The client's transaction ended on conn. Returns true when the guard keeps or takes care of the connection. */
  transactionEnded(conn: ServerConnection): boolean {
    if (!this.probeAfter) return this.pinned?.conn === conn;
    this.probeAfter = false;
    const pool = this.host.pool;
    this.hold();
    probeSessionState(conn, this.scope(pool), (remaining, error) => {
      if (conn.closed) return this.unhold();
      if (error !== null) this.ctx.log.warn({ client: this.host.ident.id, err: error }, 'session state check failed; keeping the client pinned');
      if (error !== null || (remaining as string[]).length > 0) this.pin(conn, pool, remaining ?? []);
      else {
        this.unpin();
        this.host.releaseServer();
      }
      this.unhold();
    });
    return true;
  }

  private pin(conn: ServerConnection, pool: Pool, remaining: string[]): void {
    if (this.pinned?.conn === conn) return;
    this.pinned = { conn, pool };
    pool.pin(conn);
    this.ctx.log.info({ client: this.host.ident.id, user: this.host.ident.user, db: this.host.ident.database, pool: pool.name, state: remaining },
      'client pinned to its server connection (session_state: pin)');
  }

  private unpin(): void {
    const p = this.pinned;
    if (!p) return;
    this.pinned = null;
    p.pool.unpin(p.conn);
    this.ctx.log.info({ client: this.host.ident.id, pool: p.pool.name }, 'session state gone: client unpinned');
  }

  /** The client leaves with its pinned connection: reset it and check, or close it. Returns false if not pinned. */
  leave(conn: ServerConnection): boolean {
    const p = this.pinned;
    if (!p || p.conn !== conn) return false;
    this.pinned = null;
    const reset = p.pool.settings.resetQuery;
    if (!reset) {
      conn.close('client left with session state and server_reset_query is empty');
      return true;
    }
    const run = conn.status === TxStatus.Idle ? reset : 'ROLLBACK';
    conn.runInternal(run, (err) => {
      if (err !== null || conn.status !== TxStatus.Idle) return conn.close(`reset after a pinned client failed: ${err ?? 'not idle'}`);
      if (run !== reset) return this.resetAndCheck(conn, p.pool, reset);
      this.checkClean(conn, p.pool);
    });
    return true;
  }

  private resetAndCheck(conn: ServerConnection, pool: Pool, reset: string): void {
    conn.runInternal(reset, (err) => (err !== null ? conn.close(`server_reset_query failed: ${err}`) : this.checkClean(conn, pool)));
  }

  private checkClean(conn: ServerConnection, pool: Pool): void {
    // The reset (DISCARD ALL) also undid tracked settings the server never reports.
    conn.applied.clear();
    probeSessionState(conn, this.scope(pool), (remaining, error) => {
      if (conn.closed) return;
      if (error !== null || (remaining as string[]).length > 0) return conn.close(`session state left after server_reset_query: ${error ?? remaining?.join('; ')}`);
      pool.release(conn);
    });
  }

  private scope(pool: Pool): ProbeScope {
    return { carried: TRACKED_PARAMS, loginUser: pool.settings.target.user, custom: this.custom };
  }

  /** The linked server connection died. */
  serverLost(): void {
    this.pinned = null;
    this.probeAfter = false;
  }

  /** The client is gone: its hub subscriptions and queued notifications go too. */
  dispose(): void {
    this.disposed = true;
    this.unlisten(null);
    this.inbox.length = 0;
  }

  private hold(): void {
    this.busy = true;
    this.host.hold();
  }

  private unhold(): void {
    this.busy = false;
    this.host.resume();
  }
}

const LISTEN_COMPLETE = encode.commandComplete('LISTEN');
const UNLISTEN_COMPLETE = encode.commandComplete('UNLISTEN');
/** Fails the server's open transaction, so it agrees with the error the client is told. */
const ABORT_SQL = `SELECT 'sluice: session-state statement rejected'::pg_catalog.int4`;

/** The statement name of a Parse message. */
function statementName(buf: Buffer, start: number): string {
  return buf.toString('utf8', start + 5, buf.indexOf(0, start + 5));
}
