// A transaction's frames that arrive before its server is linked, and their hand-over once one is.
import { UNTIMED, type ServerConnection } from '../pool/server-connection.js';
import { appendPart, ByteRun, cut } from '../protocol/byte-runs.js';
import type { ClientParams } from './state/params.js';
import type { PreparedStatements } from './prepared/prepared-statements.js';

/** The most of a transaction's opening bytes kept for sending again; a larger opening is not retried. */
const RESEND_MAX_BYTES = 64 * 1024;

export interface FirstFramesHost {
  /** conn is still this session's server and the session is still open. */
  stillLinked(conn: ServerConnection): boolean;
  /** The kept frames are about to leave (the latency clock starts here). */
  sending(): void;
  /** The client's session parameters could not be applied; the frames still go. */
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

  /** conn was just linked: bring its session parameters in line with the client's, then send what was kept. */
  link(conn: ServerConnection): void {
    // Session mode too: startup parameters never reach a pooled server's own startup packet.
    const sync = this.params.syncQuery(conn);
    const discard = this.foreignSequenceCache(conn) ? 'DISCARD SEQUENCES; ' : '';
    this.forget();
    this.onlyThese = true;
    this.sentBytes = 0;
    if (!sync && !discard) return this.sendTo(conn);
    this.syncing = true;
    conn.runInternal(UNTIMED + discard + (sync ?? ''), (err) => {
      this.syncing = false;
      if (err && !conn.closed) {
        // The connection holds settings that are not this client's: it serves nobody. The frames, still
        // unsent, go to another connection once (see ClientSession.sendElsewhere), else the client hears of it.
        this.host.syncFailed(err);
        return conn.close(`could not apply session parameters: ${err}`);
      }
      if (err) return;
      if (sync) this.params.adopt(conn);
      if (this.host.stillLinked(conn)) this.sendTo(conn);
    });
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
