// One client's session state in transaction mode: applies session_state (pin, reject, allow), serves LISTEN/UNLISTEN from the notify hub, and queues notifications until the client idles.
import { Frontend, TxStatus } from '../../protocol/codes.js';
import * as encode from '../../protocol/encode.js';
import { poolerError } from '../../errors.js';
import type { Logger } from '../../log.js';
import type { SessionStatePolicy } from '../../config/types.js';
import type { Pool } from '../../pool/pool.js';
import type { ServerConnection } from '../../pool/server-connection.js';
import type { NotifyHub, NotifySubscriber } from '../../notify/notify-hub.js';
import { probeSessionState, type ProbeScope } from '../../pool/state-probe.js';
import { finishReset } from '../../pool/session-reset.js';
import { readBack, restoreStartup, type SettingsHost } from './state-settings.js';
import { sqlTextEnd, sqlTextStart } from '../../protocol/sql-text.js';
import { scanSessionState, StateHint } from './state-scan.js';
import type { ListenOp, StateEffect, StateParser } from './session-state.js';
import { rejectionParse, rejectionQuery } from './state-rejection.js';
import { ClientChannels } from './state-listen.js';

/** What the session does with the message it showed the guard. */
export const PASS = null;
export const CONSUMED = 1;
/** PASS, CONSUMED (answered here), or a replacement message to send instead. */
export type GuardVerdict = typeof PASS | typeof CONSUMED | Buffer;

/** The session as the guard sees it. */
export interface GuardHost extends SettingsHost {
  readonly ident: { readonly id: number; readonly user: string; readonly database: string };
  readonly server: ServerConnection | null;
  /** Nothing sent and unanswered, no batch open, input not held. */
  readonly quiet: boolean;
  /** The transaction status the client was last told. */
  readonly clientStatus: number;
  /** Sluice's own ReadyForQuery; queued notifications follow it out. */
  ready(status: number): void;
  /** Stop and restart handling client input; messages that arrive meanwhile keep their order. */
  hold(): void;
  resume(): void;
  /** Skip client messages up to Sync, then answer ReadyForQuery (as after an error in a batch). */
  skipToSync(): void;
  /** The transaction is over and nothing is pinned: connection and slot go back. */
  releaseServer(): void;
  useCustomSetting(name: string): void;
  /** As releaseServer, except that the connection is closed instead of pooled. */
  closeServer(reason: string): void;
}

export interface GuardContext {
  log: Logger;
  hub: NotifyHub;
  parser: StateParser;
  policy(database: string, user: string): SessionStatePolicy;
}

/** Notifications kept for a client that does not idle; beyond this the oldest are dropped (and logged). */
const MAX_INBOX = 10_000;
/** User functions per transaction whose source the read-back searches for custom settings. */
const MAX_FUNCTIONS = 100;
/** Distinct statements warned about per client under allow; later ones are not logged. */
const MAX_WARNED = 100;
/** Why a connection that ran a statement the guard could not read is closed (see unscanned). */
const UNSCANNED = 'a statement too large to scan for session state ran on it';
/** Why a connection where a setting that cannot follow its client was set is closed (see closeUncarried). */
const UNCARRIED =
  'a client set a setting that cannot follow it to another server connection (SET ROLE, or set_config of an unnamed setting)';
/** Why a connection is closed when its client is unpinned with an emptied temp schema left on it. */
const TEMP_SCHEMA_LEFT = 'a client used temp objects on it: the backend keeps its temp schema';
/** Why a connection holding session state a client left under allow is closed when that client leaves. */
const STATE_OWNER_LEFT = 'the client that left session state on it (session_state: allow) disconnected';

export class StateGuard implements NotifySubscriber {
  /** Ask the server after this transaction whether state remains (to pin, or to unpin). */
  private probeAfter = false;
  /**
   * Why the connection is closed after this transaction instead of pooled: a statement streamed through unread
   * (when in doubt, close it), or a setting that cannot follow its client. Null: pooled as usual.
   */
  private closeAfter: string | null = null;
  private pinned: { conn: ServerConnection; pool: Pool } | null = null;
  /** A LISTEN reached the server: after the transaction its channels move to the hub. */
  private adoptAfter = false;
  /** A statement may have changed a session-level setting: the connection's values are read back after the transaction. */
  private readCarriedAfter = false;
  /** Named or unnamed statements that would leave state each time they run, so Bind catches them. */
  private readonly stateful = new Map<string, StateEffect[]>();
  /** User functions this transaction called (see Classified.functions): the read-back looks in their source. */
  private functions: string[] = [];
  /** Named or unnamed statements that change a session-level setting, so each Bind reads them back again. */
  private readonly carrying = new Map<string, readonly string[]>();
  /** A RESET (or the like) ran: the client's startup values are put back after the transaction. */
  private restoreAfter = false;
  /** Named or unnamed statements that RESET, so each Bind puts the startup values back again. */
  private readonly restoring = new Set<string>();
  /** Named or unnamed statements that LISTEN or UNLISTEN, for the same reason. */
  private readonly listening = new Map<string, ListenOp[]>();
  /** Channels this client LISTENs on through the hub. */
  private readonly channels: ClientChannels;
  private readonly inbox: Buffer[] = [];
  private dropped = 0;
  private readonly warned = new Set<string>();
  private busy = false;
  /** This transaction calls lastval() or currval(): on a connection another client used last, its cache is discarded first. */
  asksSequenceCache = false;
  /** Under allow, this transaction let session state through: the connection holds it for this client. */
  private leftState = false;
  /** Connections holding session state this client left under allow (at most its pool's size). */
  private readonly stateOn = new Set<ServerConnection>();

  constructor(
    private readonly host: GuardHost,
    private readonly ctx: GuardContext,
  ) {
    this.channels = new ClientChannels(host, ctx.hub, this);
  }

  /** A probe or hub round trip is running: the server connection must not be handed back as is. */
  get isBusy(): boolean {
    return this.busy;
  }

  /** Query and Parse: the hot path is one byte scan; the parser runs only on candidates. */
  inspect(type: number, buf: Buffer, start: number, end: number): GuardVerdict {
    // Session mode: only a RESET matters, and only to a client with startup settings of its own.
    if (this.host.pool.settings.mode !== 'transaction' && this.host.startupSettings.size === 0) return PASS;
    const from = sqlTextStart(type, buf, start, end);
    if (from < 0) return PASS;
    const to = sqlTextEnd(buf, from, end);
    if (type === Frontend.Parse && this.remembered > 0) this.forget(statementName(buf, start));
    const hint = scanSessionState(buf, from, to);
    if (hint === StateHint.None) return PASS;
    if (hint & StateHint.SequenceCache) this.asksSequenceCache = true;
    if (hint & StateHint.Releases && this.pinned) this.probeAfter = true;
    if (!(hint & StateHint.Parse)) return PASS;
    const found = this.ctx.parser.classify(buf.toString('utf8', from, to));
    if (found.resets && this.host.startupSettings.size > 0) {
      this.restoreAfter = true;
      if (type === Frontend.Parse) this.restoring.add(statementName(buf, start));
    }
    // Session mode: the connection stays the client's, so only its startup values need putting back.
    if (this.host.pool.settings.mode !== 'transaction') return PASS;
    if (found.carried) {
      this.readCarriedAfter = true;
      for (const name of found.customs) this.host.useCustomSetting(name);
      this.calling(found.functions);
      if (type === Frontend.Parse) this.carrying.set(statementName(buf, start), found.functions);
    }
    // Under pin, the probe after the transaction sees the temp schema left and closes that backend.
    if (found.tempSchema && this.policy() === 'pin') this.probeAfter = true;
    if (found.listenOps.length > 0) {
      // A pinned connection may LISTEN itself (its channels could not move to the hub): then UNLISTEN must reach it too.
      const serverListens = this.pinned !== null && found.listenOps.some((op) => !op.listen);
      if (type === Frontend.Query && found.onlyListen && !serverListens && this.canAnswerListen()) return this.listen(found.listenOps);
      // A Parse runs nothing: its Bind does (statementUse).
      if (type === Frontend.Parse) this.listening.set(statementName(buf, start), found.listenOps);
      else this.listenOnServer(found.listenOps);
    }
    if (found.effects.length === 0) return PASS;
    if (type === Frontend.Parse) this.stateful.set(statementName(buf, start), found.effects);
    return this.apply(type, buf, start, found.effects);
  }

  /**
   * A Query or Parse larger than pkt_buf streams through, so its text is never seen whole: whatever state it
   * may have left (a SET of any setting, a temp table, a lock) goes away with its server connection, which is
   * closed after the transaction. A pinned connection stays this client's, and is closed when it leaves or unpins.
   */
  unscanned(): void {
    if (this.host.pool.settings.mode === 'transaction') this.closeAfter = UNSCANNED;
  }

  /** Bind of a statement remembered as stateful runs it again; Close of a statement forgets it. */
  statementUse(type: number, buf: Buffer, start: number): void {
    if (this.remembered === 0) return;
    if (type === Frontend.Close) {
      if (buf[start + 5] === 0x53 /* S */) this.forget(buf.toString('utf8', start + 6, buf.indexOf(0, start + 6)));
      return;
    }
    const portalEnd = buf.indexOf(0, start + 5);
    const name = buf.toString('utf8', portalEnd + 1, buf.indexOf(0, portalEnd + 1));
    const ops = this.listening.get(name);
    if (ops) this.listenOnServer(ops);
    const effects = this.stateful.get(name);
    const policy = effects ? this.policy() : null;
    if (policy === 'pin') this.probeAfter = true;
    else if (policy === 'allow') this.allowed(effects as StateEffect[]);
    const functions = this.carrying.get(name);
    if (functions !== undefined) {
      this.readCarriedAfter = true;
      this.calling(functions);
    }
    if (this.restoring.has(name)) this.restoreAfter = true;
  }

  /** The transaction calls these user functions: the read-back looks in their source for custom settings. */
  private calling(functions: readonly string[]): void {
    for (const fn of functions) if (this.functions.length < MAX_FUNCTIONS && !this.functions.includes(fn)) this.functions.push(fn);
  }

  /** Statements remembered for what running them again does. */
  private get remembered(): number {
    return this.stateful.size + this.listening.size + this.carrying.size + this.restoring.size;
  }

  private forget(statement: string): void {
    this.stateful.delete(statement);
    this.listening.delete(statement);
    this.carrying.delete(statement);
    this.restoring.delete(statement);
  }

  private policy(): SessionStatePolicy {
    return this.ctx.policy(this.host.ident.database, this.host.ident.user);
  }

  private apply(type: number, buf: Buffer, start: number, effects: StateEffect[]): GuardVerdict {
    const policy = this.policy();
    if (policy === 'pin') {
      this.probeAfter = true;
      return PASS;
    }
    if (policy === 'reject') return this.reject(type, buf, start, effects[0].statement);
    const uncarried = this.allowed(effects);
    if (uncarried.length > 0) this.warnUncarried(uncarried);
    // Remembered per client, so a statement that repeats is named once; a client that makes up names gets a bounded set.
    const fresh = effects.filter((e) => e.uncarried === undefined && !this.warned.has(e.statement));
    if (fresh.length > 0 && this.warned.size < MAX_WARNED) {
      for (const e of fresh) this.warned.add(e.statement);
      this.ctx.log.warn(
        { client: this.host.ident.id, user: this.host.ident.user, db: this.host.ident.database, statements: fresh.map((e) => e.statement) },
        'session state in transaction pooling stays on the server connection, where later clients may see it (session_state: allow)',
      );
    }
    return PASS;
  }

  /**
   * What allow does with a statement's effects: a setting that cannot follow its client must not reach the next
   * one either, so the connection is closed after the transaction; other state stays there, owned by this client
   * until it leaves. Returns the uncarried effects.
   */
  private allowed(effects: StateEffect[]): StateEffect[] {
    const uncarried = effects.filter((e) => e.uncarried !== undefined);
    if (uncarried.length > 0) this.closeAfter ??= UNCARRIED;
    if (uncarried.length < effects.length) this.leftState = true;
    return uncarried;
  }

  /** Logged once per statement, like the warning below. */
  private warnUncarried(effects: StateEffect[]): void {
    const fresh = effects.filter((e) => !this.warned.has(e.statement));
    if (fresh.length === 0 || this.warned.size >= MAX_WARNED) return;
    const { id, user, database } = this.host.ident;
    this.ctx.log.warn(
      { client: id, user, db: database, statements: fresh.map((e) => e.statement), why: fresh.map((e) => e.uncarried) },
      'a setting that cannot follow its client: its server connection is closed after the transaction, and the next transaction runs without it (session_state: allow)',
    );
  }

  /**
   * Nothing of a rejected statement runs. Answered here when the client waits for nothing else; inside a
   * transaction block the server's transaction is aborted first, as a failed statement would abort it.
   * Behind other requests in flight, the server is made to fail it in order instead.
   */
  private reject(type: number, buf: Buffer, start: number, statement: string): GuardVerdict {
    const err = poolerError('SLUICE_SESSION_STATE_REJECTED', { statement });
    const { host } = this;
    this.ctx.log.info(
      { client: host.ident.id, user: host.ident.user, db: host.ident.database, statement },
      'session-state statement rejected',
    );
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

  /** Answered here only between transactions: inside a block Postgres applies LISTEN at commit, so the server decides. */
  private canAnswerListen(): boolean {
    return this.host.quiet && (this.host.server?.status ?? TxStatus.Idle) === TxStatus.Idle;
  }

  /** Subscribes in order, answering each statement as Postgres would, then ReadyForQuery. */
  private listen(ops: ListenOp[]): GuardVerdict {
    this.hold();
    this.channels.run(ops, (err) => {
      if (err) this.host.toClient(encode.errorResponse({ severity: 'ERROR', sqlstate: err.sqlstate, message: err.message }));
      this.host.ready(TxStatus.Idle);
      this.unhold();
    });
    return CONSUMED;
  }

  /**
   * LISTEN/UNLISTEN that the server runs (extended protocol, a pipeline, a transaction block): its replies are
   * Postgres' own. UNLISTEN ends the hub's deliveries now; a LISTEN's channels move to the hub once its
   * transaction is over (see settle).
   */
  private listenOnServer(ops: ListenOp[]): void {
    if (this.host.server?.status === TxStatus.Failed) return; // Postgres refuses it (25P02).
    for (const op of ops) {
      if (op.listen) this.adoptAfter = true;
      else this.channels.unlisten(op.channel);
    }
  }

  // Notifications: delivered while the client idles outside a transaction, else queued until its ReadyForQuery.

  notification(frame: Buffer): void {
    if (this.inbox.length === 0 && this.deliverable()) return this.host.toClient(frame);
    if (this.inbox.length >= MAX_INBOX) {
      this.inbox.shift();
      if (this.dropped++ === 0)
        this.ctx.log.warn({ client: this.host.ident.id, max: MAX_INBOX }, 'client does not idle: dropping its oldest queued notifications');
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
    this.asksSequenceCache = false;
    if (this.leftState) this.ownState(conn);
    if (!this.adoptAfter && !this.probeAfter && !this.readCarriedAfter && !this.restoreAfter) {
      if (this.pinned?.conn === conn) return true;
      if (this.closeAfter === null) return false;
      this.giveBack();
      return true;
    }
    this.hold();
    this.settle(conn, this.host.pool);
    return true;
  }

  /** Input held: moves the server's LISTENs to the hub, asks whether other state remains, then keeps or releases conn. */
  private settle(conn: ServerConnection, pool: Pool): void {
    if (this.restoreAfter) {
      this.restoreAfter = false;
      return restoreStartup(conn, this.host, (ok) => (ok ? this.settle(conn, pool) : this.unhold()));
    }
    if (this.readCarriedAfter) {
      this.readCarriedAfter = false;
      const functions = this.functions;
      if (functions.length > 0) this.functions = [];
      return readBack(conn, this.host, functions, (ok) => (ok ? this.settle(conn, pool) : this.unhold()));
    }
    if (this.adoptAfter) {
      this.adoptAfter = false;
      return this.channels.adopt(conn, (error) => {
        if (conn.closed) return this.unhold();
        if (error !== null) {
          this.ctx.log.warn(
            { client: this.host.ident.id, err: error },
            'could not move LISTEN to the notify hub; checking the connection for state',
          );
          this.probeAfter = true;
        }
        this.settle(conn, pool);
      });
    }
    if (!this.probeAfter) {
      if (this.pinned?.conn !== conn) this.giveBack();
      return this.unhold();
    }
    this.probeAfter = false;
    probeSessionState(conn, this.scope(pool), (remaining, error, tempSchema) => {
      if (conn.closed) return this.unhold();
      if (error !== null)
        this.ctx.log.warn({ client: this.host.ident.id, err: error }, 'session state check failed; keeping the client pinned');
      if (error !== null || (remaining as string[]).length > 0) this.pin(conn, pool, remaining ?? []);
      else {
        // Its temp objects are gone, but the backend keeps their schema: the client moves on, the backend closes.
        if (tempSchema) this.closeAfter ??= TEMP_SCHEMA_LEFT;
        this.unpin();
        this.giveBack();
      }
      this.unhold();
    });
  }

  /**
   * Session mode: a transaction ended on the client's own connection. Returns true when the guard puts the
   * client's startup values back first (after a RESET), holding input meanwhile.
   */
  sessionTransactionEnded(conn: ServerConnection): boolean {
    if (!this.restoreAfter) return false;
    this.restoreAfter = false;
    this.hold();
    restoreStartup(conn, this.host, () => this.unhold());
    return true;
  }

  /** The connection goes back to the pool, or is closed if a statement ran on it unscanned. */
  private giveBack(): void {
    const reason = this.closeAfter;
    if (reason === null) return this.host.releaseServer();
    this.closeAfter = null;
    this.ctx.log.info({ client: this.host.ident.id, reason }, 'server connection closed after the transaction');
    this.host.closeServer(reason);
  }

  private pin(conn: ServerConnection, pool: Pool, remaining: string[]): void {
    if (this.pinned?.conn === conn) return;
    this.pinned = { conn, pool };
    pool.pin(conn);
    this.ctx.log.info(
      { client: this.host.ident.id, user: this.host.ident.user, db: this.host.ident.database, pool: pool.name, state: remaining },
      'client pinned to its server connection (session_state: pin)',
    );
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
    // A LISTEN that reached the server and was never moved to the hub is reset like pinned state, and so is
    // what was to be probed or read back once the transaction ended (a client that left before that could run).
    const unsettled = this.adoptAfter || this.probeAfter || this.readCarriedAfter;
    const p = this.pinned ?? (unsettled ? { conn, pool: this.host.pool } : null);
    this.adoptAfter = this.probeAfter = this.readCarriedAfter = this.restoreAfter = false;
    if (this.closeAfter !== null && p?.conn !== conn) {
      conn.close(this.closeAfter);
      this.closeAfter = null;
      return true;
    }
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
      if (error !== null || (remaining as string[]).length > 0)
        return conn.close(`session state left after server_reset_query: ${error ?? remaining?.join('; ')}`);
      // What the reset cannot undo (a temp schema, random()'s seed) is handled as in session mode.
      finishReset(conn, (leftover) => (leftover !== null ? conn.close(leftover) : pool.release(conn)));
    });
  }

  private scope(pool: Pool): ProbeScope {
    return { loginUser: pool.settings.target.user };
  }

  /** The linked server connection died. */
  serverLost(): void {
    this.pinned = null;
    // closeAfter stays: the statement may be sent again to another connection (see ClientSession.sendElsewhere).
    this.probeAfter = this.adoptAfter = false;
  }

  /** The client is gone: its hub subscriptions and queued notifications go too. */
  dispose(): void {
    this.channels.dispose();
    this.inbox.length = 0;
    // Under allow, the state this client left ends with it, as a direct session's locks and temp tables do: a
    // session advisory lock held on a pooled connection would otherwise block every other client forever.
    for (const conn of this.stateOn) {
      if (conn.closed || conn.stateOwner !== this) continue;
      if (conn.link === null) conn.close(STATE_OWNER_LEFT);
      else conn.closeWhenReleased = STATE_OWNER_LEFT;
    }
    this.stateOn.clear();
  }

  /** conn holds session state this client left under allow: it dies with the client (see dispose). */
  private ownState(conn: ServerConnection): void {
    this.leftState = false;
    conn.stateOwner = this;
    this.stateOn.add(conn);
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

/** Fails the server's open transaction, so it agrees with the error the client is told. */
const ABORT_SQL = `SELECT 'sluice: session-state statement rejected'::pg_catalog.int4`;

/** The statement name of a Parse message. */
function statementName(buf: Buffer, start: number): string {
  return buf.toString('utf8', start + 5, buf.indexOf(0, start + 5));
}
