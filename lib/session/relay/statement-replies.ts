// Matches a server's replies to the requests Sluice sent for one client: swallows its own, answers in order, skips after errors.
import { ReplyVerdict, type ReplyWatcher, type ServerConnection } from '../../pool/server-connection.js';
import { Sync } from '../../protocol/statement-frames.js';
import { ReplyKind, ReplyQueue } from './reply-queue.js';

/** The side that sent the requests: it writes to the client and takes back what failed requests changed. */
export interface RepliesOwner {
  /** Bytes for the client, in reply order. */
  toClient(buf: Buffer, start: number, end: number): void;
  /** A Synth entry's turn came: write its answer. */
  answer(ref: unknown, aux: number): void;
  /** A Probe's turn came (its request failed as meant to): write the pooler's error. */
  refuse(ref: unknown): void;
  /** A request never took effect: it failed with `sqlstate`, or (null) the server skipped it after an error. */
  undo(kind: ReplyKind, ref: unknown, aux: number, sqlstate: string | null): void;
  /**
   * A Bind or Describe of a named statement failed. Returns true to retry it: `clean` says nothing
   * was sent after the Sync that ends its pipeline, so a retry cannot reorder anything.
   */
  statementFailed(sqlstate: string, ref: unknown, aux: number, clean: boolean): boolean;
  /** Sends the failed request again, and what followed it up to its Sync. */
  retry(aux: number): void;
  /** A Described entry's RowDescription or NoData (buf[start, end)), on its way to the client. */
  described(ref: unknown, buf: Buffer, start: number, end: number): void;
  /** A Verify entry's RowDescription or NoData (buf[start, end)): the shape of the statement just prepared. */
  verified(ref: unknown, buf: Buffer, start: number, end: number): void;
}

/**
 * The aux of a Statement entry for a Describe sent again after it failed as stale: the client already got
 * its ParameterDescription from the failed try (the server sends it before it checks the plan).
 */
export const DESCRIBED_BEFORE = -2;

/** Entries whose ReadyForQuery ends them. */
function endsAtReady(kind: ReplyKind): boolean {
  return kind === ReplyKind.Sync || kind === ReplyKind.Query || kind === ReplyKind.Resync;
}

/** Entries whose completion the watcher must see: Sluice's own requests, and what a client is shown of a statement. */
function stopsAt(kind: ReplyKind): boolean {
  return kind === ReplyKind.Prepare || kind === ReplyKind.Close || kind === ReplyKind.Verify || kind === ReplyKind.Described;
}

/** Entries answered by one completion message each (a Pass run by `count`). */
function answered(kind: ReplyKind): boolean {
  return kind !== ReplyKind.Synth && !endsAtReady(kind);
}

export class StatementReplies implements ReplyWatcher {
  readonly queue = new ReplyQueue();
  private conn: ServerConnection | null = null;
  /** The server's completion count when the head entry's first request was still unanswered. */
  private base = 0;

  constructor(private readonly owner: RepliesOwner) {}

  attach(conn: ServerConnection): void {
    this.conn = conn;
    this.queue.clear();
    this.base = conn.completions;
  }

  detach(): void {
    this.queue.clear();
    this.conn = null;
  }

  /** Records a request just written to the server, or (Synth) one Sluice answers itself. */
  expect(kind: ReplyKind, ref: unknown = null, aux = 0): void {
    const conn = this.conn as ServerConnection;
    if (this.queue.size === 0) this.base = conn.completions;
    this.queue.push(kind, ref, aux);
    if (kind === ReplyKind.Synth || stopsAt(kind)) this.arm();
    // Seen once asked for, until the link ends: ParameterDescriptions come only with Describe('S'), which is rare.
    if (kind === ReplyKind.Verify || aux === DESCRIBED_BEFORE) conn.watchParameterDescriptions(true);
  }

  parameters(_buf: Buffer, _start: number, _end: number): ReplyVerdict {
    // The entry this answers: past the requests already answered since the head.
    const q = this.queue;
    let done = (this.conn as ServerConnection).completions - this.base;
    let n = 0;
    while (n < q.size && (!answered(q.kind(n)) || done >= q.count(n))) {
      if (answered(q.kind(n))) done -= q.count(n);
      n++;
    }
    if (n >= q.size) return ReplyVerdict.Forward;
    if (q.kind(n) === ReplyKind.Verify) return ReplyVerdict.Swallow;
    if (q.kind(n) !== ReplyKind.Described || q.aux(n) !== DESCRIBED_BEFORE) return ReplyVerdict.Forward;
    q.setAux(n, -1);
    return ReplyVerdict.Swallow;
  }

  /**
   * Answers every Synth whose turn has come, then asks the server connection to show us the next
   * completion that matters: the last reply before a Synth, or the reply to Sluice's own Parse or Close.
   * Plain replies are only counted on the way, so a pipeline of them is forwarded in whole chunks.
   */
  private arm(): void {
    const conn = this.conn as ServerConnection;
    const q = this.queue;
    let units = 0;
    for (let n = 0; n < q.size; n++) {
      const kind = q.kind(n);
      if (kind === ReplyKind.Synth) {
        if (conn.completions - this.base < units) return conn.stopAtCompletion(this.base + units);
        this.consume(units);
        this.owner.answer(q.ref(0), q.aux(0));
        q.shift();
        units = 0;
        n = -1;
        continue;
      }
      if (stopsAt(kind)) return conn.stopAtCompletion(this.base + units + 1);
      if (endsAtReady(kind)) break;
      units += q.count(n);
    }
    conn.stopAtCompletion(0);
  }

  /** Takes `units` answered requests off the head. */
  private consume(units: number): void {
    while (units > 0) {
      const k = Math.min(units, this.queue.count(0));
      this.queue.take(k);
      this.base += k;
      units -= k;
    }
  }

  completion(buf: Buffer, start: number, end: number): ReplyVerdict {
    const conn = this.conn as ServerConnection;
    if (this.queue.size === 0) return ReplyVerdict.Forward;
    this.consume(conn.completions - this.base - 1);
    const kind = this.queue.kind(0);
    const ref = this.queue.ref(0);
    this.queue.take();
    this.base++;
    // Sluice's own Parse, Close or Describe: the client never asked. Anything else is delivered here, so
    // that the answers arm() writes next come after it.
    if (kind === ReplyKind.Described) this.owner.described(ref, buf, start, end);
    if (kind === ReplyKind.Verify) this.owner.verified(ref, buf, start, end);
    else if (kind !== ReplyKind.Prepare && kind !== ReplyKind.Close) this.owner.toClient(buf, start, end);
    this.arm();
    return ReplyVerdict.Delivered;
  }

  error(sqlstate: string, _buf: Buffer, _start: number, _end: number): ReplyVerdict {
    const conn = this.conn as ServerConnection;
    const q = this.queue;
    let done = conn.completions - this.base;
    while (done > 0 && q.size > 0 && answered(q.kind(0))) {
      const k = Math.min(done, q.count(0));
      q.take(k);
      this.base += k;
      done -= k;
    }
    // A Query's or a Sync's own error (a failed COMMIT, say): nothing is skipped.
    if (q.size === 0 || !answered(q.kind(0))) return ReplyVerdict.Forward;
    const kind = q.kind(0);
    const ref = q.ref(0);
    const aux = q.aux(0);
    q.take();
    this.skipToSync();
    conn.stopAtCompletion(0);
    switch (kind) {
      case ReplyKind.Probe:
        this.owner.refuse(ref);
        return ReplyVerdict.Swallow;
      case ReplyKind.Statement:
      case ReplyKind.Described:
        return this.statementFailed(sqlstate, ref, aux);
      default:
        this.owner.undo(kind, ref, aux, sqlstate);
        return ReplyVerdict.Forward;
    }
  }

  /** After an error Postgres ignores every request up to the next Sync: they never happened. */
  private skipToSync(): void {
    const q = this.queue;
    let n = 0;
    while (n < q.size && q.kind(n) !== ReplyKind.Sync) n++;
    // Undo newest first: a later Parse may have reused a name that an earlier Close freed.
    for (let i = n - 1; i >= 0; i--) this.owner.undo(q.kind(i), q.ref(i), q.aux(i), null);
    for (let i = 0; i < n; i++) q.shift();
  }

  private statementFailed(sqlstate: string, ref: unknown, aux: number): ReplyVerdict {
    const q = this.queue;
    // What is left starts at the pipeline's Sync, if the client sent it yet.
    const syncSent = q.size > 0;
    const clean = q.size <= 1;
    if (!this.owner.statementFailed(sqlstate, ref, aux, clean)) return ReplyVerdict.Forward;
    // The server now skips to the pipeline's Sync and answers it; that ReadyForQuery belongs to the failed try.
    q.clear();
    if (!syncSent) (this.conn as ServerConnection).write(Sync);
    q.push(ReplyKind.Resync);
    this.owner.retry(aux);
    return ReplyVerdict.Swallow;
  }

  ready(buf: Buffer, start: number, end: number): ReplyVerdict {
    const conn = this.conn as ServerConnection;
    const q = this.queue;
    // Requests before the Sync were answered; any left were skipped after an error already handled.
    while (q.size > 0 && !endsAtReady(q.kind(0))) q.shift();
    if (q.size === 0) return ReplyVerdict.Forward;
    const swallow = q.kind(0) === ReplyKind.Resync;
    q.take();
    this.base = conn.completions;
    if (q.size > 0 && q.kind(0) === ReplyKind.Synth) {
      // Answers due right after this ReadyForQuery: it must reach the client first.
      if (!swallow) this.owner.toClient(buf, start, end);
      this.arm();
      return swallow ? ReplyVerdict.Swallow : ReplyVerdict.Delivered;
    }
    this.arm();
    return swallow ? ReplyVerdict.Swallow : ReplyVerdict.Forward;
  }
}
