// One client's named prepared statements in transaction mode: its names, the renaming of its requests, what it is owed.
import { Frontend, TxStatus } from '../../protocol/codes.js';
import * as encode from '../../protocol/encode.js';
import {
  bindStatementStart,
  dropsAllStatements,
  FailingDescribe,
  nulAt,
  PORTAL_TARGET,
  STATEMENT_TARGET,
  withName,
} from '../../protocol/statement-frames.js';
import { poolerError, type PoolerError } from '../../errors.js';
import type { ServerConnection, ServerLink } from '../../pool/server-connection.js';
import type { Pool } from '../../pool/pool.js';
import { ReplyKind } from '../relay/reply-queue.js';
import { DESCRIBED_BEFORE, StatementReplies, type RepliesOwner } from '../relay/statement-replies.js';
import type { StatementRegistry } from './statement-registry.js';
import { RetryWindow } from '../relay/retry-window.js';
import { BatchWrite } from '../relay/batch-write.js';
import { HeldRequests, type HoldHost } from './held-requests.js';
import { ClientNames, type Binding } from './client-names.js';
import { StatementPlacement } from './statement-placement.js';
import { UnnamedStatement } from './unnamed-statement.js';
import { ShapeGate } from './shape-gate.js';

/** Who the statements serve: the client's bytes go there, and its input waits there while requests are held. */
export type StatementsHost = Pick<ServerLink, 'serverData'> & HoldHost;

// Synth answers.
const PARSE_COMPLETE = 0;
const CLOSE_COMPLETE = 1;

const STALE_PLAN = '0A000'; // cached plan must not change result type
const NO_SUCH_STATEMENT = '26000';
/** The ref of Sluice's own Parse of the client's unnamed statement (ReplyKind.Prepare): not in the statement cache. */
const UNNAMED = '';
export class PreparedStatements implements RepliesOwner {
  readonly replies = new StatementReplies(this);
  private readonly names: ClientNames;
  private conn: ServerConnection | null = null;
  private pool: Pool | null = null;
  /** After Sluice's own error the client's requests are dropped up to its Sync, as Postgres would skip them. */
  private skipping = false;
  /** The unnamed statement is DISCARD ALL or DEALLOCATE ALL. */
  private unnamedDropsAll = false;
  /** The current pipeline's messages, for a retry after a statement failed as stale. */
  private readonly window = new RetryWindow();
  /** The Describe being sent again already gave the client its ParameterDescription. */
  private describedBefore = false;
  /** A Parse or Close since attach bound or let go of a client name: the same messages can't be sent again elsewhere. */
  namesChanged = false;
  /** sendAll's writes: untouched runs of messages merge, and the pipeline leaves in one write (corked only if it must). */
  private readonly batch = new BatchWrite();
  /** Requests waiting for Sluice's check of a statement's result shape (see verify). */
  private readonly held: HeldRequests;
  private readonly placement = new StatementPlacement(this.replies, (frame) => this.write(frame));
  private readonly shapes = new ShapeGate();
  private readonly unnamed = new UnnamedStatement();

  constructor(
    registry: StatementRegistry,
    private readonly out: StatementsHost,
  ) {
    this.held = new HeldRequests(out);
    this.names = new ClientNames(registry);
  }

  /** The client starts a transaction on conn. */
  attach(conn: ServerConnection, pool: Pool): void {
    this.conn = conn;
    this.pool = pool;
    this.namesChanged = false;
    this.placement.attach(conn, pool);
    conn.statements.beginTransaction();
    this.replies.attach(conn);
  }

  detach(): void {
    this.replies.detach();
    this.conn = null;
    this.placement.detach();
    this.held.drop();
    this.shapes.reset();
    this.skipping = this.unnamedDropsAll = this.describedBefore = false;
    this.window.reset();
  }

  /** Statements this client has prepared and not closed. */
  get count(): number {
    return this.names.size;
  }

  /** The client left: its names let go of their statements. */
  close(): void {
    this.detach();
    this.names.clear();
  }

  /** Messages that waited for a server connection, framed and sent in order; untouched runs leave in one write. */
  sendAll(parts: Buffer[]): void {
    const all = parts.length === 1 ? parts[0] : Buffer.concat(parts);
    const conn = this.conn as ServerConnection;
    this.batch.begin(conn);
    let at = 0;
    while (at + 5 <= all.length) {
      const end = at + 1 + all.readInt32BE(at + 1);
      if (end > all.length) break;
      if (this.send(all[at], all, at, end)) this.batch.write(conn, all, at, end);
      at = end;
    }
    // Only CopyData and a streaming Query's head (sent as such) are ever relayed before they are whole.
    if (at < all.length && this.held.active) this.held.keep(all.subarray(at));
    else if (at < all.length && (all[at] === Frontend.CopyData || at + 5 > all.length || this.sendHead(all[at], all, at, all.length))) {
      this.batch.write(conn, all, at, all.length);
    }
    this.batch.end();
  }

  /** The head of a Query streaming through (larger than pkt_buf): tracked as a Query, and no retry reaches back over it. */
  sendHead(type: number, buf: Buffer, start: number, end: number): boolean {
    const pass = this.send(type, buf, start, end);
    this.window.reset();
    this.window.ranRequest();
    return pass;
  }

  /** Everything Sluice itself sends goes after the client's messages before it. */
  private write(frame: Buffer): void {
    this.batch.write(this.conn as ServerConnection, frame);
  }

  /**
   * One client message on its way to the linked server. Returns true when it goes as is; false when
   * Sluice sent something in its place (or nothing).
   */
  send(type: number, buf: Buffer, start: number, end: number): boolean {
    if (this.held.active) {
      this.held.keep(buf.subarray(start, end));
      return false;
    }
    if (this.skipping) {
      if (type !== Frontend.Sync) return false;
      this.skipping = false;
    }
    this.window.message(buf, start, end);
    switch (type) {
      case Frontend.Parse:
        return this.Parse(buf, start, end);
      case Frontend.Bind:
        return this.Bind(buf, start, end);
      case Frontend.Describe:
        return this.Describe(buf, start, end);
      case Frontend.Close:
        return this.Close(buf, start, end);
      case Frontend.Execute:
        this.window.ranRequest();
        this.replies.expect(ReplyKind.Pass);
        return true;
      case Frontend.Sync:
        this.shapes.reset();
        this.window.synced();
        this.replies.expect(ReplyKind.Sync);
        return true;
      case Frontend.Query:
        // A simple query replaces the unnamed statement: what is left of it here is this client's.
        (this.conn as ServerConnection).unnamedOwner = this;
        this.unnamed.forget();
        if (dropsAllStatements(buf, start + 5, end)) this.dropAll();
        this.replies.expect(ReplyKind.Query);
        return true;
      case Frontend.FunctionCall:
        this.replies.expect(ReplyKind.Query);
        return true;
      default:
        // Flush and COPY data: no reply of their own.
        return true;
    }
  }

  private Parse(buf: Buffer, start: number, end: number): boolean {
    const nameEnd = nulAt(buf, start + 5, end);
    if (nameEnd <= start + 5) {
      // The unnamed statement (or a malformed Parse, which Postgres will refuse) passes through.
      if (nameEnd > 0) {
        this.unnamedDropsAll = dropsAllStatements(buf, nameEnd + 1, end);
        this.unnamed.keep(buf, start, end);
      }
      (this.conn as ServerConnection).unnamedOwner = this;
      this.replies.expect(ReplyKind.Pass);
      return true;
    }
    const name = buf.toString('utf8', start + 5, nameEnd);
    if (this.names.has(name)) return this.fail(poolerError('SLUICE_DUPLICATE_PREPARED_STATEMENT', { name }));
    if (!this.window.replaying) (this.pool as Pool).stats.clientParseCount++;
    const binding = this.names.bind(name, buf, start, end, nameEnd);
    this.namesChanged = true;
    // Another client prepared the same text here already: answer ParseComplete in its turn.
    if (this.placement.beforeClientParse(binding.stmt)) this.replies.expect(ReplyKind.Synth, binding, PARSE_COMPLETE);
    else this.replies.expect(ReplyKind.ClientParse, binding);
    return false;
  }

  private Bind(buf: Buffer, start: number, end: number): boolean {
    const from = bindStatementStart(buf, start, end);
    const to = from < 0 ? -1 : nulAt(buf, from, end);
    if (to <= from) {
      if (to === from) {
        if (!this.unnamedHere()) return false;
        if (this.unnamedDropsAll) this.dropAll();
      }
      this.window.ranRequest();
      this.replies.expect(ReplyKind.Pass);
      return true;
    }
    return this.rename(buf, start, end, from, to);
  }

  private Describe(buf: Buffer, start: number, end: number): boolean {
    const portalOf = this.shapes.takePortal();
    if (portalOf !== null && buf[start + 5] === PORTAL_TARGET) {
      // The columns the client reads its rows with from now on.
      this.replies.expect(ReplyKind.Described, portalOf, -1);
      return true;
    }
    const to = buf[start + 5] === STATEMENT_TARGET ? nulAt(buf, start + 6, end) : -1;
    if (to <= start + 6) {
      // A portal, or the unnamed statement.
      if (to === start + 6 && !this.unnamedHere()) return false;
      this.replies.expect(ReplyKind.Pass);
      return true;
    }
    return this.rename(buf, start, end, start + 6, to);
  }

  /** Bind or Describe of a named statement: prepared on this server first if need be, then sent under Sluice's name. */
  private rename(buf: Buffer, start: number, end: number, from: number, to: number): boolean {
    const name = buf.toString('utf8', from, to);
    const b = this.names.get(name);
    if (!b) return this.fail(poolerError('SLUICE_UNKNOWN_PREPARED_STATEMENT', { name }));
    const isBind = buf[start] === Frontend.Bind;
    const lru = (this.conn as ServerConnection).statements;
    const present = lru.has(b.stmt.name);
    const copyShape = present ? lru.touch(b.stmt.name) : null;
    if (this.shapes.mustCheck(b, copyShape, isBind, buf, start, end)) return this.verify(b, buf, start, end);
    this.placement.ensure(b.stmt, present);
    const stmt = b.stmt;
    this.write(withName(buf, start, end, from, to, stmt.nameBytes));
    const again = this.describedBefore && !isBind;
    this.describedBefore = false;
    const kind = isBind ? ReplyKind.Statement : ReplyKind.Described;
    this.replies.expect(kind, b, again ? DESCRIBED_BEFORE : this.window.candidate(buf, start, end));
    if (isBind) {
      if (!this.window.replaying) (this.pool as Pool).stats.bindCount++;
      this.window.ranRequest();
      if (stmt.dropsAll) this.dropAll();
    }
    return false;
  }

  private Close(buf: Buffer, start: number, end: number): boolean {
    const to = buf[start + 5] === STATEMENT_TARGET ? nulAt(buf, start + 6, end) : -1;
    if (to <= start + 6) {
      this.replies.expect(ReplyKind.Pass);
      return true;
    }
    // The server's statement stays for others: the client only lets go of its name.
    const name = buf.toString('utf8', start + 6, to);
    const binding = this.names.close(name);
    if (binding) this.namesChanged = true;
    this.replies.expect(ReplyKind.Synth, binding, CLOSE_COMPLETE);
    return false;
  }

  /**
   * Before a Bind or Describe of the unnamed statement: the one on this connection must be this client's. It is
   * prepared here again from the client's last unnamed Parse when it is not (the transaction that parsed it ran
   * elsewhere, or Sluice's own queries ran since); another client's never runs for this one. False when Sluice
   * answered with an error instead.
   */
  private unnamedHere(): boolean {
    const conn = this.conn as ServerConnection;
    if (conn.unnamedOwner === this) return true;
    const parse = this.unnamed.copy();
    if (parse !== null) {
      // An unnamed Parse's name is empty: its text starts right after the type, length and name's NUL.
      this.unnamedDropsAll = dropsAllStatements(parse, 6, parse.length);
      this.write(parse);
      this.replies.expect(ReplyKind.Prepare, UNNAMED);
      conn.unnamedOwner = this;
      return true;
    }
    // Nothing of a client's here (a fresh connection, or Sluice's own query ran last): Postgres answers as it would.
    if (conn.unnamedOwner === null) return true;
    return this.fail(poolerError('SLUICE_UNNAMED_STATEMENT_ELSEWHERE', {}));
  }

  /** Sluice must answer with an error: a request that fails takes its place, so the server skips to Sync with the client. */
  private fail(err: PoolerError): boolean {
    this.write(FailingDescribe);
    this.replies.expect(ReplyKind.Probe, err);
    this.skipping = true;
    return false;
  }

  /** DISCARD ALL or DEALLOCATE ALL: every statement of this session is gone, on the server too. */
  private dropAll(): void {
    this.names.clear();
    this.conn?.statements.doubtAll();
  }

  // RepliesOwner

  toClient(buf: Buffer, start: number, end: number): void {
    this.out.serverData(buf, start, end);
  }

  answer(_ref: unknown, aux: number): void {
    const frame = aux === PARSE_COMPLETE ? encode.ParseComplete : encode.CloseComplete;
    this.out.serverData(frame, 0, frame.length);
  }

  refuse(ref: unknown): void {
    const err = ref as PoolerError;
    // Postgres' routine for its own error: drivers re-prepare on it (postgres.js looks at nothing else).
    const routine = err.code === 'SLUICE_RESULT_TYPE_CHANGED' ? 'RevalidateCachedQuery' : undefined;
    const frame = encode.errorResponse({ severity: err.severity, sqlstate: err.sqlstate, message: err.message, routine });
    this.out.serverData(frame, 0, frame.length);
  }

  undo(kind: ReplyKind, ref: unknown, aux: number, sqlstate: string | null): void {
    switch (kind) {
      case ReplyKind.ClientParse:
        this.names.unbind(ref as Binding);
        this.placement.parseUndone((ref as Binding).stmt.name, sqlstate);
        return;
      case ReplyKind.Prepare:
        if (ref !== UNNAMED) this.placement.parseUndone(ref as string, sqlstate);
        return;
      case ReplyKind.Close:
        this.placement.closeUndone(ref as string, aux);
        return;
      case ReplyKind.Verify:
        // The check never ran: the server skips the held requests up to their Sync, and so does Sluice.
        this.skipping = true;
        this.release(null);
        return;
      case ReplyKind.Synth:
        if (ref === null) return;
        if (aux === PARSE_COMPLETE) this.names.unbind(ref as Binding);
        else this.names.rebind(ref as Binding);
        return;
      default:
        return;
    }
  }

  statementFailed(sqlstate: string, ref: unknown, aux: number, clean: boolean): boolean {
    if (sqlstate !== STALE_PLAN && sqlstate !== NO_SUCH_STATEMENT) return false;
    const conn = this.conn as ServerConnection;
    // The server's copy is stale or gone: the next use closes and prepares it again.
    conn.statements.doubt((ref as Binding).stmt.name);
    // Retried only outside a transaction block, where nothing ran before it that the failure rolled back.
    if (!clean || !this.window.holds(aux) || conn.status !== TxStatus.Idle) return false;
    // A Describe found stale had already sent its ParameterDescription; a missing statement fails before that.
    this.describedBefore = sqlstate === STALE_PLAN && this.window.typeAt(aux) === Frontend.Describe;
    return true;
  }

  retry(aux: number): void {
    const again = this.window.take(aux);
    this.window.replaying = true;
    // As one run, so that a Bind still sees the Describe that follows it (describesPortalNext).
    this.sendAll(again);
    this.window.replaying = false;
  }

  /**
   * Bind or Describe of a statement whose columns the client was shown, where this connection's copy is not
   * known to return those: Sluice prepares it afresh and describes it, and holds this request and all after it
   * until the answer says whether they may go (verified). Only this path waits for the server.
   */
  private verify(b: Binding, buf: Buffer, start: number, end: number): boolean {
    this.window.unkeep(buf, start);
    this.placement.prepareAndDescribe(b.stmt);
    this.replies.expect(ReplyKind.Verify, b);
    // Sent elsewhere after a server loss, the held requests would be lost: the client is told instead.
    this.namesChanged = true;
    this.held.start(buf.subarray(start, end), this.window.replaying);
    return false;
  }

  described(ref: unknown, buf: Buffer, start: number, end: number): void {
    this.shapes.described(ref as Binding, (this.conn as ServerConnection).statements, buf, start, end);
  }

  verified(ref: unknown, buf: Buffer, start: number, end: number): void {
    const same = this.shapes.verified(ref as Binding, (this.conn as ServerConnection).statements, buf, start, end);
    // Postgres' answer to a statement whose result changed under it: it fails, every time, until prepared again.
    this.release(same ? null : poolerError('SLUICE_RESULT_TYPE_CHANGED'));
  }

  /** Sends the held requests: the first one fails with `err` if given, and the rest are skipped up to Sync. */
  private release(err: PoolerError | null): void {
    const taken = this.held.take();
    if (!taken) return;
    if (err) {
      taken.kept.shift();
      this.describedBefore = false;
      this.fail(err);
    }
    this.window.replaying = taken.retrying;
    if (taken.kept.length > 0) this.sendAll(taken.kept);
    this.window.replaying = false;
    this.held.resumed();
  }
}
