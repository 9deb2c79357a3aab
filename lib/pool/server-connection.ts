// One logged-in backend socket: relays frames to the linked client, watches ReadyForQuery and ParameterStatus, shows a watcher the replies it asks for.
import net from 'node:net';
import { serialize } from '../protocol/pg-protocol.js';
import { Backend, TxStatus } from '../protocol/codes.js';
import { FrameScanner, interestTable, type FrameSink } from '../protocol/framing.js';
import { decodeErrorFields, decodeParameterStatus, type NoticeFields } from '../protocol/decode.js';
import { COMPLETIONS } from '../protocol/statement-frames.js';
import type { List, Listed } from '../list.js';
import type { LoginResult } from './server-login.js';
import { ServerStatements } from './server-statements.js';
import { serverConnectOptions } from './server-address.js';

/** What a linked client session receives from its server. */
export interface ServerLink {
  /** Response bytes, forwarded untouched. */
  serverData(buf: Buffer, start: number, end: number): void;
  /** Brackets one chunk's forwarding, so its pieces leave in one write. */
  batch(on: boolean): void;
  /** After the bytes of a chunk were forwarded: how many ReadyForQuery it held and the last status. */
  serverReady(count: number, status: number): void;
  /** The server reported a parameter change (SET, or a SET the client ran). */
  serverParameter(name: string, value: string): void;
  /** The server entered COPY FROM STDIN: the client streams CopyData until its CopyDone or CopyFail. */
  serverCopyIn(): void;
  /** The server's stream is between messages again, as the link asked with waitForBoundary. */
  serverBetweenMessages(): void;
  /**
   * Handling this server's output threw: the link's state is unknown. The link ends its client; the server
   * connection closes itself right after.
   */
  serverFault(err: unknown): void;
  /**
   * The server connection died while linked. fatalSent: nothing more may be written to the client, because
   * the server already sent it a FATAL, or died mid-message so the client's stream ends inside a frame.
   * unanswered: the server sent this link nothing but, perhaps, its termination notice, so the client saw
   * nothing of it (see TERMINATED).
   */
  serverClosed(reason: string, fatalSent: boolean, unanswered: boolean): void;
  /** The server socket wrote out what was buffered for it (after a write that overfilled it). */
  serverDrained?(): void;
}

/** What becomes of a reply a watcher looked at. */
export const enum ReplyVerdict {
  /** Kept from the client. */
  Swallow,
  /** Forwarded as is. */
  Forward,
  /** The watcher wrote it to the client itself (to put its own answers after it). */
  Delivered,
}

/**
 * Follows a linked client's requests while Sluice rewrites them (named prepared statements): sees every
 * ReadyForQuery and ErrorResponse, and the request completion it asked for with stopAtCompletion.
 */
export interface ReplyWatcher {
  completion(buf: Buffer, start: number, end: number): ReplyVerdict;
  /** A ParameterDescription, while the watcher asked to see them (watchParameterDescriptions). */
  parameters(buf: Buffer, start: number, end: number): ReplyVerdict;
  error(sqlstate: string, buf: Buffer, start: number, end: number): ReplyVerdict;
  ready(buf: Buffer, start: number, end: number): ReplyVerdict;
}

type InternalDone = (error: string | null) => void;

/**
 * Put before Sluice's own statements on a connection that may hold a client's statement_timeout: they run
 * untimed (a client with a 5 ms timeout must not make Sluice lose track of a connection), and only for
 * their own implicit transaction, so the client's value stays.
 */
export const UNTIMED = 'SET LOCAL statement_timeout = 0; ';

/**
 * SQLSTATEs of the FATAL a backend sends as it is ended from outside (pg_terminate_backend, a shutdown,
 * recovery): its notice that it is going, not an answer to the client's request.
 */
const TERMINATED = new Set(['57P01', '57P02', '57P03']);

const TERMINATE = serialize.end();
const WATCHED = interestTable([
  Backend.ReadyForQuery,
  Backend.ParameterStatus,
  Backend.ErrorResponse,
  Backend.CopyInResponse,
  Backend.CopyBothResponse,
  // Only read while Sluice's own query runs (see internalWarning); otherwise relayed as any other message.
  Backend.NoticeResponse,
]);

export class ServerConnection implements FrameSink, Listed<ServerConnection> {
  prev: ServerConnection | null = null;
  next: ServerConnection | null = null;
  list: List<ServerConnection> | null = null;

  readonly socket: net.Socket;
  /** Parameters as the server reported them (original case), for welcoming clients. */
  readonly params: Map<string, string>;
  /** The same by lower-case name, plus tracked values set without a report: see session/state/params.ts. */
  readonly values = new Map<string, string>();
  readonly applied = new Map<string, string>();
  /**
   * The client whose session state (let through under session_state: allow) this connection holds: when that
   * client leaves, its state must end as a direct session's would, so the connection is closed.
   */
  stateOwner: object | null = null;
  /** Set when the connection must close instead of going back to its pool, with the reason. */
  closeWhenReleased: string | null = null;
  /** The client (its prepared-statement tracker) whose unnamed statement, or simple query, ran here last; null when fresh. */
  unnamedOwner: object | null = null;
  /** Whose session values the connection last served (the client's parameters object); null when fresh. */
  lastClient: object | null = null;
  /** Session mode: settings loaded libraries defined at login (see session-reset.ts); null when not counted. */
  librarySettings: number | null = null;
  /** Bumped when `values` changes; see session/state/params.ts. */
  paramsEpoch = 0;
  cleanKey: string | null = null;
  cleanEpoch = 0;
  cleanApplied = 0;
  /**
   * The parameter sync (a DO block that ends its backend when a value fails) ran here once: PL/pgSQL is there,
   * so a later sync may go in the same write as the client's frames (see FirstFrames.link).
   */
  syncProven = false;
  /** The last WARNING Postgres sent while Sluice's own query ran: why a sync failed (see params.ts). */
  internalWarning: NoticeFields | null = null;
  readonly pid: number;
  readonly secret: number;
  readonly tls: boolean;
  /** Last ReadyForQuery status byte. */
  status: number = TxStatus.Idle;
  link: ServerLink | null = null;
  /** What Sluice has prepared here under its own names; forgotten with the connection. */
  readonly statements = new ServerStatements();
  closed = false;
  lastUsedAt: number;

  private readonly scanner: FrameScanner;
  private readyCount = 0;
  private fatalSeen = false;
  /** The server answered the link since attach: bytes went to the client, or the server sent a malformed message. */
  private answered = false;
  /** The link waits to hear serverBetweenMessages. */
  private boundaryWanted = false;
  /** CancelRequests sent for this backend that Postgres has not yet taken, and what waits for them. */
  private cancels = 0;
  private afterCancels: (() => void) | null = null;
  /** The termination notice that came before any reply to the link (kept from the client), or null. */
  private terminatedBeforeReply: string | null = null;
  private internal: InternalDone | null = null;
  private internalError: string | null = null;
  private watcher: ReplyWatcher | null = null;
  /** The scanner counts COMPLETIONS (set while a watcher is attached, kept after it leaves). */
  private counting = false;
  /** Reading stopped because the linked client does not take its bytes; every change of link resumes it. */
  private paused = false;

  constructor(
    readonly id: number,
    login: LoginResult,
    readonly createdAt: number,
    private readonly onClosed: (conn: ServerConnection, reason: string) => void,
  ) {
    this.socket = login.socket;
    this.params = login.params;
    this.pid = login.pid;
    this.secret = login.secret;
    this.tls = login.tls;
    this.lastUsedAt = createdAt;
    for (const [k, v] of login.params) this.values.set(k.toLowerCase(), v);
    this.scanner = new FrameScanner(this, WATCHED);
    const onChunk = (chunk: Buffer): void => {
      // The fault boundary for server output: whatever throws while it is relayed ends this link, not the process.
      try {
        this.onData(chunk);
      } catch (err) {
        this.fault(err);
      }
    };
    // A socket opened with onread reads through its route (see SocketReader); TLS ones through 'data'.
    if (login.route) login.route.to(onChunk);
    else this.socket.on('data', onChunk);
    this.socket.on('error', () => undefined); // 'close' follows and carries the consequence
    // The server's FIN: nothing more will come, so the connection must not be handed out while Node closes it.
    this.socket.on('end', () => this.handleClose('server closed the connection'));
    this.socket.on('drain', () => this.link?.serverDrained?.());
    this.socket.on('close', () => this.handleClose('server closed the connection'));
  }

  attach(link: ServerLink, watcher: ReplyWatcher | null = null): void {
    this.resumeReading();
    this.link = link;
    this.watcher = watcher;
    this.answered = false;
    this.boundaryWanted = false;
    // Counting stays on between watched links (a watcher reads completions relative to attach time);
    // the scanner's table changes only when watching starts or stops, not on every attach.
    const counting = watcher !== null;
    if (counting !== this.counting) {
      this.counting = counting;
      this.scanner.setCounting(COMPLETIONS, counting && !this.internal);
    }
  }

  detach(): void {
    this.resumeReading();
    this.link = null;
    this.boundaryWanted = false;
    if (!this.watcher) return;
    this.watcher = null;
    this.scanner.stopAtCount(0);
    this.scanner.setInterest(Backend.ParameterDescription, false);
  }

  /** While watched: how many extended-query requests were answered (see protocol/statement-frames COMPLETIONS). */
  get completions(): number {
    return this.scanner.counted;
  }

  /** Shows the watcher the completion that brings `completions` to n (0: none). */
  stopAtCompletion(n: number): void {
    this.scanner.stopAtCount(n);
  }

  watchParameterDescriptions(on: boolean): void {
    this.scanner.setInterest(Backend.ParameterDescription, on);
  }

  /** Backpressure: the linked client's socket holds too much; no more is read until resumeReading or a change of link. */
  pauseReading(): void {
    if (this.paused || this.closed) return;
    this.paused = true;
    this.socket.pause();
  }

  resumeReading(): void {
    if (!this.paused) return;
    this.paused = false;
    this.socket.resume();
  }

  get readingPaused(): boolean {
    return this.paused;
  }

  write(data: Buffer): void {
    this.socket.write(data);
  }

  cork(): void {
    this.socket.cork();
  }

  uncork(): void {
    this.socket.uncork();
  }

  /** Runs SQL the pooler originates (parameter sync, ROLLBACK, reset query); its results never reach a client. */
  runInternal(sql: string, done: InternalDone): void {
    this.socket.write(this.ownQuery(sql, done));
  }

  /**
   * The Query frame of SQL the pooler originates, for the caller to write ahead of the client's frames (one
   * write): its replies, up to its ReadyForQuery, never reach a client nor count as answers to the client's
   * requests (completions are not counted meanwhile). It replaces the unnamed statement.
   */
  ownQuery(sql: string, done: InternalDone): Buffer {
    this.internal = done;
    this.internalError = null;
    this.internalWarning = null;
    this.unnamedOwner = null;
    if (this.counting) this.scanner.setCounting(COMPLETIONS, false, true);
    return serialize.query(sql);
  }

  /** Sluice's own query was answered (or the connection died): counting resumes for the client's replies. */
  private endInternal(): InternalDone | null {
    const done = this.internal;
    this.internal = null;
    if (done && this.counting) this.scanner.setCounting(COMPLETIONS, true);
    return done;
  }

  /** Sends a simple query of Sluice's own. It replaces the unnamed statement: no client's is left here. */
  writeOwnQuery(sql: string): void {
    this.unnamedOwner = null;
    this.socket.write(serialize.query(sql));
  }

  get busyInternally(): boolean {
    return this.internal !== null;
  }

  /** A CancelRequest for this backend is on its way; cancelDone when Postgres has taken it. */
  cancelSent(): void {
    this.cancels++;
  }

  cancelDone(): void {
    if (--this.cancels > 0) return;
    const after = this.afterCancels;
    this.afterCancels = null;
    if (after && !this.closed) after();
  }

  /** A cancel for the last client may still be on its way: the connection must not serve another client until it lands. */
  get cancelling(): boolean {
    return this.cancels > 0;
  }

  /** Runs fn once no cancel is on its way (at once if none is). */
  whenCancelsDone(fn: () => void): void {
    if (this.cancels === 0) return fn();
    this.afterCancels = fn;
  }

  close(reason: string): void {
    if (this.closed) return;
    if (!this.socket.destroyed) this.socket.end(TERMINATE);
    this.socket.destroy();
    this.handleClose(reason);
  }

  private onData(chunk: Buffer): void {
    this.readyCount = 0;
    const link = this.link;
    link?.batch(true);
    this.scanner.feed(chunk);
    link?.batch(false);
    if (this.readyCount > 0 && this.link && !this.internal) this.link.serverReady(this.readyCount, this.status);
    if (this.boundaryWanted && this.link && !this.scanner.midForward) {
      this.boundaryWanted = false;
      this.link.serverBetweenMessages();
    }
  }

  /** A message to the linked client is half relayed (an async one after ReadyForQuery, say): it may not change hands yet. */
  get midMessage(): boolean {
    return this.scanner.midForward;
  }

  /** Asks to hear serverBetweenMessages when the stream next is between messages. */
  waitForBoundary(): void {
    this.boundaryWanted = true;
  }

  onMessage(type: number, buf: Buffer, start: number, end: number): boolean {
    switch (type) {
      case Backend.ReadyForQuery:
        return this.ReadyForQuery(buf, start, end);
      case Backend.ParameterStatus:
        return this.ParameterStatus(buf, start, end);
      case Backend.ErrorResponse:
        return this.ErrorResponse(buf, start, end);
      case Backend.NoticeResponse:
        if (!this.internal) return this.link !== null;
        this.internalWarning = decodeErrorFields(buf, start, end);
        return false;
      case Backend.CopyInResponse:
      case Backend.CopyBothResponse:
        this.link?.serverCopyIn();
        return this.link !== null;
      case Backend.ParameterDescription:
        return this.watcher ? this.watcher.parameters(buf, start, end) === ReplyVerdict.Forward : this.link !== null;
      default:
        // The completion a watcher stopped at.
        return this.watcher ? this.watcher.completion(buf, start, end) === ReplyVerdict.Forward : this.link !== null;
    }
  }

  private ReadyForQuery(buf: Buffer, start: number, end: number): boolean {
    this.status = buf[start + 5];
    const done = this.endInternal();
    if (done) {
      done(this.internalError);
      return false;
    }
    if (this.watcher) {
      const verdict = this.watcher.ready(buf, start, end);
      if (verdict !== ReplyVerdict.Swallow) this.readyCount++;
      return verdict === ReplyVerdict.Forward;
    }
    this.readyCount++;
    return this.link !== null;
  }

  private ParameterStatus(buf: Buffer, start: number, end: number): boolean {
    const p = decodeParameterStatus(buf, start, end);
    if (p) {
      this.params.set(p[0], p[1]);
      this.values.set(p[0].toLowerCase(), p[1]);
      this.paramsEpoch++;
      if (this.link && !this.internal) this.link.serverParameter(p[0], p[1]);
    }
    return this.link !== null && !this.internal;
  }

  private ErrorResponse(buf: Buffer, start: number, end: number): boolean {
    const f = decodeErrorFields(buf, start, end);
    const fatal = f.severity === 'FATAL' || f.severity === 'PANIC';
    if (fatal) this.fatalSeen = true;
    if (fatal && (!this.link || !this.answered) && TERMINATED.has(f.code)) {
      // Ended before it answered anything: idle in the pool, or handed out just now. No client hears it.
      this.terminatedBeforeReply = f.message;
      if (this.internal) this.internalError ??= `${f.code}: ${f.message}`;
      else if (!this.link) this.close(`server terminated the connection: ${f.message}`);
      return false;
    }
    if (this.internal) {
      this.internalError ??= `${f.code}: ${f.message}`;
      return false;
    }
    if (this.watcher && !fatal) return this.watcher.error(f.code, buf, start, end) === ReplyVerdict.Forward;
    return this.link !== null;
  }

  forward(buf: Buffer, start: number, end: number): void {
    // Output nobody asked for (internal query results, or chatter while idle in the pool) is dropped.
    if (this.link && !this.internal) {
      this.answered = true;
      this.link.serverData(buf, start, end);
    }
  }

  /** A throw while relaying: this connection's state is unknown, so it closes; then its client is ended. */
  private fault(err: unknown): void {
    const link = this.link;
    this.link = null;
    this.watcher = null;
    this.close(`internal error while relaying: ${err instanceof Error ? err.message : String(err)}`);
    link?.serverFault(err);
  }

  onFrameError(): void {
    this.answered = true;
    this.close('server sent a malformed message');
  }

  private handleClose(reason: string): void {
    if (this.closed) return;
    this.closed = true;
    this.scanner.fail();
    this.endInternal()?.(reason);
    const link = this.link;
    this.link = null;
    this.watcher = null;
    const notice = this.terminatedBeforeReply;
    const boundary = this.scanner.atBoundary;
    // After a cut-off frame, an ErrorResponse would be read as the rest of that frame (a corrupt DataRow, say).
    const fatalSent = (this.fatalSeen && notice === null) || !boundary;
    link?.serverClosed(notice !== null ? `server terminated the connection: ${notice}` : reason, fatalSent, !this.answered && !fatalSent);
    this.onClosed(this, reason);
  }
}

/** Sends a CancelRequest for a backend over a fresh connection, as the protocol requires. */
export function sendCancel(host: string, port: number, pid: number, secret: number, done: () => void = () => undefined): void {
  const s = net.connect(serverConnectOptions(host, port));
  s.on('error', () => undefined);
  s.setTimeout(5000, () => s.destroy());
  s.once('connect', () => s.end(serialize.cancel(pid, secret)));
  // Postgres closes the connection once it has signalled the backend: from then on the cancel can hit nothing new.
  s.once('close', done);
}
