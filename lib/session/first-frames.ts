// A transaction's frames that arrive before its server is linked, and their hand-over once one is.
import { UNTIMED, type ServerConnection } from '../pool/server-connection.js';
import { appendPart, ByteRun, cut } from '../protocol/byte-runs.js';
import { Frontend } from '../protocol/codes.js';
import { namesStatement, STATEMENT_TARGET } from '../protocol/statement-frames.js';
import type { ClientParams } from './state/params.js';
import type { PreparedStatements } from './prepared/prepared-statements.js';

/** The most of a transaction's opening bytes kept for sending again; a larger opening is not retried. */
const RESEND_MAX_BYTES = 64 * 1024;

/** A sync Postgres refused: its SQLSTATE ('' when unknown) and message. */
export interface SyncFailure {
  readonly sqlstate: string;
  readonly message: string;
}

export interface FirstFramesHost {
  /** conn is still this session's server and the session is still open. */
  stillLinked(conn: ServerConnection): boolean;
  /** The kept frames are about to leave (the latency clock starts here). */
  sending(): void;
  /** The client's session parameters could not be applied (logged); the connection closes, the frames did not run there. */
  syncFailed(err: string): void;
  /** The transaction calls lastval() or currval() (the state scan saw it). */
  readonly asksSequenceCache: boolean;
}

export class FirstFrames {
  private parts: Buffer[] = [];
  /** The last range kept, still uncut from its chunk (see keep). */
  private readonly run = new ByteRun();
  /** Bytes kept, for flow control and SHOW CLIENTS. */
  private kept = 0;
  /** Set while the client's session parameters are applied to a newly linked server; frames keep queuing meanwhile. */
  syncing = false;
  /** The sync's answer is still to come (whether frames wait for it or went behind it). */
  inFlight = false;
  /** Why the last sync failed, until the session takes it. */
  private failure: SyncFailure | null = null;
  /**
   * Since link, the server was sent only the client's frames (and the parameter sync), and they are kept: a
   * server that died before answering can then be replaced and the same frames sent again (see resend).
   */
  private onlyThese = false;
  /** The client frames the server was sent since link, while onlyThese holds. */
  private sent: Buffer[] = [];
  private sentBytes = 0;

  constructor(
    private readonly params: ClientParams,
    /** Renames named prepared statements on their way out; null where connections never change hands. */
    private readonly prepared: PreparedStatements | null,
    private readonly host: FirstFramesHost,
    /** Transaction mode: a proven sync may go ahead of the frames. Session mode links once, and waits for it. */
    private readonly sameWrite = true,
  ) {}

  get empty(): boolean {
    return this.run.empty && this.parts.length === 0;
  }

  get bytes(): number {
    return this.kept;
  }

  /**
   * Keeps buf[start, end). A range that continues the last one in the same chunk only extends it: a
   * pipeline of messages read in one chunk costs no view per message, and is cut out once, when sent.
   */
  keep(buf: Buffer, start = 0, end = buf.length): void {
    this.kept += end - start;
    const previous = this.run.add(buf, start, end);
    if (previous !== null) appendPart(this.parts, previous);
  }

  private cutRun(): void {
    const piece = this.run.take();
    if (piece !== null) appendPart(this.parts, piece);
  }

  clear(): void {
    this.parts = [];
    this.run.clear();
    this.kept = 0;
    this.forget();
  }

  /** The server answered, or was sent more than can be kept: the frames can no longer be sent again. */
  forget(): void {
    this.onlyThese = false;
    if (this.sent.length > 0) this.sent = [];
  }

  /** buf[start, end) of the client's went straight to the linked server: kept with the rest, within bounds. */
  alsoSent(buf: Buffer, start = 0, end = buf.length): void {
    if (!this.onlyThese) return;
    this.sentBytes += end - start;
    if (this.sentBytes > RESEND_MAX_BYTES) return this.forget();
    appendPart(this.sent, cut(buf, start, end));
  }

  /**
   * The linked server died having been sent only these frames: they are kept again, in front of anything
   * kept since, for the next server. False when that cannot be (then nothing changes).
   */
  resend(): boolean {
    if (!this.onlyThese) return false;
    const sent = this.sent;
    this.forget();
    if (sent.length > 0) {
      this.cutRun();
      this.parts = sent.concat(this.parts);
      for (const p of sent) this.kept += p.length;
    }
    return !this.empty;
  }

  /**
   * conn was just linked: brings its session parameters in line with the client's and sends what was kept.
   * On a connection whose sync is proven (see ServerConnection.syncProven) the sync leaves in the same write as
   * the frames: if it fails, its backend ends before Postgres reads them, and they go to another connection.
   * Elsewhere (a fresh connection) the frames wait for the sync's answer, which proves the connection.
   */
  link(conn: ServerConnection): void {
    // Session mode too: startup parameters never reach a pooled server's own startup packet.
    const sync = this.params.syncQuery(conn, this.sameWrite);
    const discard = this.foreignSequenceCache(conn) ? 'DISCARD SEQUENCES; ' : '';
    this.forget();
    this.onlyThese = true;
    this.sentBytes = 0;
    this.failure = null;
    if (!sync && !discard) return this.sendTo(conn);
    const sql = UNTIMED + discard + (sync ?? '');
    // DISCARD SEQUENCES alone sets nothing: the client's settings do not depend on it. Frames that name
    // prepared statements wait, so that a failed sync leaves them unsent, to be sent again (see namesStatements).
    const ahead = sync === null || (this.sameWrite && conn.syncProven && !(this.prepared !== null && this.namesStatements()));
    const answered = (err: string | null): void => {
      this.syncing = this.inFlight = false;
      if (err === null) {
        if (sync) {
          this.params.adopt(conn);
          if (this.sameWrite) conn.syncProven = true;
        }
        if (!ahead && this.host.stillLinked(conn)) this.sendTo(conn);
        return;
      }
      this.failed(conn, err);
    };
    this.inFlight = true;
    if (!ahead) {
      this.syncing = true;
      return conn.runInternal(sql, answered);
    }
    conn.cork();
    conn.write(conn.ownQuery(sql, answered));
    this.sendTo(conn);
    conn.uncork();
  }

  /**
   * The sync failed. Its backend ended itself, so nothing sent after it ran; or it answered with an error and
   * lives (it could not run the DO block): it serves nobody. Either way the frames go to another connection
   * once (see ClientSession.sendElsewhere), else the client hears why (takeFailure).
   */
  private failed(conn: ServerConnection, err: string): void {
    const warning = conn.internalWarning;
    // A backend ended from outside (no WARNING of the sync's) is a lost connection, not a refused setting.
    if (warning) this.failure = { sqlstate: warning.code, message: warning.message };
    else if (!conn.closed) this.failure = { sqlstate: err.slice(0, 5), message: err.slice(7) };
    this.host.syncFailed(warning ? `${warning.code}: ${warning.message}` : err);
    if (!conn.closed) conn.close(`could not apply session parameters: ${err}`);
  }

  /** Why the last sync failed (Postgres' SQLSTATE and message), once; null if it did not. */
  takeFailure(): SyncFailure | null {
    const f = this.failure;
    this.failure = null;
    return f;
  }

  /**
   * lastval() and currval() answer from the session's sequence cache, which on a connection another client used
   * last holds that client's values: a client asking gets Postgres' "not yet defined in this session" instead.
   */
  private foreignSequenceCache(conn: ServerConnection): boolean {
    const foreign = conn.lastClient !== null && conn.lastClient !== this.params;
    conn.lastClient = this.params;
    return foreign && this.host.asksSequenceCache;
  }

  /**
   * A kept Parse, Bind or Close names a prepared statement: sent, it binds or lets go of the client's name (or
   * holds requests), and such frames cannot be sent again on another connection (PreparedStatements.namesChanged).
   * A message cut across parts (rare) counts as one that does. Walks the frames only when a sync is due.
   */
  private namesStatements(): boolean {
    this.cutRun();
    for (const p of this.parts) {
      for (let at = 0; at < p.length; ) {
        const end = at + 5 > p.length ? p.length + 1 : at + 1 + p.readInt32BE(at + 1);
        if (end > p.length) return true;
        const type = p[at];
        if (namesStatement(type, p, at, end)) return true;
        if (type === Frontend.Close && p[at + 5] === STATEMENT_TARGET && p[at + 6] !== 0) return true;
        at = end;
      }
    }
    return false;
  }

  /** Everything kept, to conn in one write. */
  sendTo(conn: ServerConnection): void {
    this.cutRun();
    const parts = this.parts;
    this.parts = [];
    if (this.onlyThese) {
      for (const p of parts) this.sentBytes += p.length;
      if (this.sentBytes <= RESEND_MAX_BYTES) this.sent = parts;
      else this.forget();
    }
    this.kept = 0;
    this.host.sending();
    if (this.prepared && parts.length > 0) this.prepared.sendAll(parts);
    else if (parts.length === 1) conn.write(parts[0]);
    else if (parts.length > 1) conn.write(Buffer.concat(parts));
  }
}
