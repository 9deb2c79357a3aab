// Incremental framing of typed protocol messages: finds boundaries by type byte and length, copies nothing it forwards.

/** Where a scanner delivers what it finds. Implemented by the session and the server connection. */
export interface FrameSink {
  /**
   * A complete message whose type is marked interesting: buf[start, end) holds the whole message,
   * type byte and length included. Return false to keep it out of the forwarded byte stream.
   */
  onMessage(type: number, buf: Buffer, start: number, end: number): boolean;
  /** Bytes to pass on untouched: whole uninteresting messages, or parts of one still arriving. */
  forward(buf: Buffer, start: number, end: number): void;
  /** The stream is not valid protocol: a length below 4 or above the maximum. */
  onFrameError(reason: 'length' | 'too_large', length: number): void;
  /**
   * The head of a streaming message (see FrameScanner.setStreaming): buf[start, end) holds its first bytes,
   * type and length included, and `total` is the whole message's size. Return false to keep the head out
   * of the forwarded stream; the rest of the message is forwarded as it arrives either way.
   */
  onHead?(type: number, buf: Buffer, start: number, end: number, total: number): boolean;
  /** Asked first, with the same head: true to gather this message whole after all (the owner must rewrite it). */
  gatherWhole?(type: number, buf: Buffer, start: number, end: number): boolean;
}

const HEADER = 5;
/** What the sink sees of a streaming message: enough for a comment tag and a statement's first keywords. */
export const STREAM_HEAD = 16384;
/** What the scanner does with each message type. */
const FORWARD = 0;
const INSPECT = 1;
/** Forwarded and counted; the one that brings the count to stopAt is handed to the sink instead. */
const COUNT = 2;

/** Which message types a scanner hands to its sink, built once and shared by every scanner that starts from it. */
export type InterestTable = Readonly<Uint8Array> & { readonly __interestTable: true };

/** A table marking these types as interesting; scanners copy it only if they change their interest. */
export function interestTable(types: Iterable<number>): InterestTable {
  const table = new Uint8Array(256);
  for (const t of types) table[t] = INSPECT;
  return table as unknown as InterestTable;
}

/**
 * Walks chunks message by message. Uninteresting messages are never buffered: their bytes are
 * forwarded as they arrive, even when a message spans chunks. Interesting messages are gathered
 * whole (copied only when split across chunks) and handed to the sink. Counted messages are
 * forwarded like uninteresting ones, only counted, unless one is the message the owner stops at.
 */
export class FrameScanner {
  /** Shared with other scanners (a table from interestTable) until this one changes it. */
  private interest: Uint8Array;
  private ownInterest: boolean;
  /** Bytes still to forward of an uninteresting message that spans chunks. */
  private skip = 0;
  /** A header split across chunks; allocated the first time one is. */
  private head: Buffer | null = null;
  private headLen = 0;
  /** An interesting message split across chunks, being filled. */
  private partial: Buffer | null = null;
  private partialLen = 0;
  /** The declared size of the partial message; its buffer grows towards it as bytes arrive, so a
   *  header that merely claims a huge length costs no memory. */
  private partialTotal = 0;
  /** For a streaming message's head being gathered: the bytes of the message after it, else 0. */
  private streamRest = 0;
  /** Messages of these types stream when larger than streamAbove (0: none stream). */
  private streams: Uint8Array | null = null;
  private streamAbove = 0;
  private failed = false;
  /**
   * Whole messages of counted types forwarded or handed over so far. A counted message split across chunks
   * is gathered whole (they are small replies), so the count never includes a half-forwarded message.
   */
  counted = 0;
  /** The counted message that brings `counted` to this is handed to the sink (0: none). */
  private stopAt = 0;

  constructor(
    private readonly sink: FrameSink,
    interestingTypes: InterestTable | Iterable<number>,
    private maxLength = 0x3fffffff,
  ) {
    this.ownInterest = !(interestingTypes instanceof Uint8Array);
    this.interest = interestingTypes instanceof Uint8Array ? interestingTypes : interestTable(interestingTypes);
  }

  /** The interest table this scanner may change. */
  private writableInterest(): Uint8Array {
    if (!this.ownInterest) {
      this.interest = Uint8Array.from(this.interest);
      this.ownInterest = true;
    }
    return this.interest;
  }

  setInterest(type: number, on: boolean): void {
    const kind = on ? INSPECT : FORWARD;
    if (this.interest[type] !== kind) this.writableInterest()[type] = kind;
  }

  /**
   * Counts messages of these types as they pass, without splitting the forwarded stream, so the owner can
   * tell how many requests were answered; stopAtCount asks to see one of them at an exact boundary. keepStop:
   * a pause (while the pooler's own query is answered), after which counting resumes toward the same stop.
   */
  setCounting(types: Iterable<number>, on: boolean, keepStop = false): void {
    const kind = on ? COUNT : FORWARD;
    for (const t of types) if (this.interest[t] !== INSPECT && this.interest[t] !== kind) this.writableInterest()[t] = kind;
    if (!on && !keepStop) this.stopAt = 0;
  }

  /** Hands the counted message that brings `counted` to n to the sink, like an interesting one (0: none). */
  stopAtCount(n: number): void {
    this.stopAt = n;
  }

  /**
   * Messages of these interesting types larger than `above` bytes that span chunks are not gathered whole:
   * the sink sees their first STREAM_HEAD bytes (onHead), and the rest is forwarded as it arrives, so a
   * huge message costs no more memory than an uninteresting one. `above` is at least STREAM_HEAD.
   */
  setStreaming(types: Iterable<number>, above: number): void {
    this.streams ??= new Uint8Array(256);
    for (const t of types) this.streams[t] = 1;
    this.streamAbove = Math.max(above, STREAM_HEAD);
  }

  /** Bytes of a message being gathered: memory the scanner holds. */
  get pendingBytes(): number {
    return this.partial === null ? 0 : this.partial.length;
  }

  setMaxLength(max: number): void {
    this.maxLength = max;
  }

  /** True between messages: nothing of a message is pending. */
  get atBoundary(): boolean {
    return this.skip === 0 && this.headLen === 0 && this.partial === null;
  }

  /**
   * True while a message is half forwarded: its first bytes went out and the rest has not arrived. The
   * stream may not change destination until it ends (a header held back or a message being gathered went nowhere yet).
   */
  get midForward(): boolean {
    return this.skip > 0;
  }

  feed(chunk: Buffer): void {
    if (this.failed) return;
    let pos = this.resume(chunk);
    if (pos < 0) return;
    let fwd = pos;
    const len = chunk.length;
    while (pos < len) {
      if (len - pos < HEADER) {
        this.flush(chunk, fwd, pos);
        chunk.copy((this.head ??= Buffer.allocUnsafe(HEADER)), 0, pos, len);
        this.headLen = len - pos;
        return;
      }
      const type = chunk[pos];
      const total = chunk.readInt32BE(pos + 1) + 1;
      if (!this.lengthOk(total - 1)) {
        // Whole messages before the bad one go out, exactly as if the chunk had split in front of it.
        this.flush(chunk, fwd, pos);
        return this.frameError(total - 1);
      }
      const end = pos + total;
      const kind = this.interest[type];
      if (kind === FORWARD) {
        if (end > len) {
          this.skip = end - len;
          break;
        }
        pos = end;
        continue;
      }
      if (end > len) {
        this.flush(chunk, fwd, pos);
        // A streaming message's head may be whole already: its rest is the remainder of this chunk.
        const after = this.startPartial(chunk, pos, total);
        if (after >= 0) this.skipFrom(chunk, after);
        return;
      }
      if (kind === COUNT && ++this.counted !== this.stopAt) {
        pos = end;
        continue;
      }
      // Earlier bytes go out before the sink hears of this message: its verdict may change where they belong.
      this.flush(chunk, fwd, pos);
      fwd = this.sink.onMessage(type, chunk, pos, end) ? pos : end;
      pos = end;
      if (this.failed) return;
    }
    this.flush(chunk, fwd, len);
  }

  /** Finishes whatever the previous chunk left open; returns where normal scanning starts, or -1. */
  private resume(chunk: Buffer): number {
    let pos = 0;
    if (this.headLen > 0) pos = this.resumeHeader(chunk);
    else if (this.partial) pos = this.fillPartial(chunk, 0);
    // An uninteresting message spanning chunks, or the rest of a streaming one whose head just completed.
    return pos < 0 || this.skip === 0 ? pos : this.skipFrom(chunk, pos);
  }

  /** Forwards what remains to skip, from `from` on; returns where the next message starts, or -1. */
  private skipFrom(chunk: Buffer, from: number): number {
    const n = Math.min(this.skip, chunk.length - from);
    this.skip -= n;
    this.flush(chunk, from, from + n);
    return this.skip > 0 ? -1 : from + n;
  }

  private resumeHeader(chunk: Buffer): number {
    const head = this.head as Buffer;
    const need = HEADER - this.headLen;
    if (chunk.length < need) {
      chunk.copy(head, this.headLen);
      this.headLen += chunk.length;
      return -1;
    }
    chunk.copy(head, this.headLen, 0, need);
    this.headLen = 0;
    const type = head[0];
    const total = head.readInt32BE(1) + 1;
    if (!this.lengthOk(total - 1)) {
      this.frameError(total - 1);
      return -1;
    }
    if (this.interest[type] === FORWARD) {
      // The header bytes were held back; forward them now, then the body as it comes.
      this.sink.forward(Buffer.from(head), 0, HEADER);
      this.skip = total - HEADER;
      const n = Math.min(this.skip, chunk.length - need);
      this.skip -= n;
      this.flush(chunk, need, need + n);
      return this.skip > 0 ? -1 : need + n;
    }
    this.openPartial(type, total, chunk.length);
    head.copy(this.partial as Buffer, 0, 0, HEADER);
    this.partialLen = HEADER;
    return this.fillPartial(chunk, need);
  }

  /** Gathers a message that spans chunks (or a streaming one's head); returns where its rest starts, or -1. */
  private startPartial(chunk: Buffer, pos: number, total: number): number {
    this.openPartial(chunk[pos], total, chunk.length - pos);
    this.partialLen = 0;
    return this.fillPartial(chunk, pos);
  }

  private openPartial(type: number, total: number, have: number): void {
    const streams = this.streams !== null && this.streams[type] === 1 && total > this.streamAbove;
    this.partialTotal = streams ? STREAM_HEAD : total;
    this.streamRest = streams ? total - STREAM_HEAD : 0;
    this.partial = Buffer.allocUnsafe(streams ? STREAM_HEAD : initialCapacity(total, have));
  }

  private fillPartial(chunk: Buffer, from: number): number {
    const n = Math.min(this.partialTotal - this.partialLen, chunk.length - from);
    let msg = this.partial as Buffer;
    if (this.partialLen + n > msg.length) {
      const grown = Buffer.allocUnsafe(Math.min(this.partialTotal, Math.max(msg.length * 2, this.partialLen + n)));
      msg.copy(grown, 0, 0, this.partialLen);
      msg = this.partial = grown;
    }
    chunk.copy(msg, this.partialLen, from, from + n);
    this.partialLen += n;
    if (this.partialLen < this.partialTotal) return -1;
    if (this.streamRest > 0) {
      if (!this.sink.gatherWhole?.(msg[0], msg, 0, msg.length)) return this.streamHead(msg, from + n);
      // Gathered after all: the head is the start of the whole message, which grows as it arrives.
      this.partialTotal += this.streamRest;
      this.streamRest = 0;
      return this.fillPartial(chunk, from + n);
    }
    this.partial = null;
    const handOver = this.interest[msg[0]] !== COUNT || ++this.counted === this.stopAt;
    const relay = !handOver || this.sink.onMessage(msg[0], msg, 0, msg.length);
    if (relay && !this.failed) this.sink.forward(msg, 0, msg.length);
    return this.failed ? -1 : from + n;
  }

  /** A streaming message's head is complete: the sink sees it, and the rest is to be skipped (forwarded). */
  private streamHead(head: Buffer, next: number): number {
    this.partial = null;
    this.skip = this.streamRest;
    this.streamRest = 0;
    const sink = this.sink;
    if ((sink.onHead?.(head[0], head, 0, head.length, head.length + this.skip) ?? true) && !this.failed) sink.forward(head, 0, head.length);
    return this.failed ? -1 : next;
  }

  private lengthOk(length: number): boolean {
    return length >= 4 && length <= this.maxLength;
  }

  private frameError(length: number): void {
    this.failed = true;
    this.sink.onFrameError(length < 4 ? 'length' : 'too_large', length);
  }

  /** Stop scanning for good (after a protocol error or when the owner closes). */
  fail(): void {
    this.failed = true;
  }

  private flush(chunk: Buffer, start: number, end: number): void {
    if (end > start) this.sink.forward(chunk, start, end);
  }
}

/** Room for a split message: what has arrived, doubled, at least 64 KiB, never beyond its declared size. */
function initialCapacity(total: number, have: number): number {
  return Math.min(total, Math.max(65536, have * 2));
}

/**
 * Gathers untyped startup-phase packets (StartupMessage, SSLRequest, CancelRequest, GSSENCRequest):
 * an int32 length that counts itself, then the body.
 */
export class StartupReader {
  private buf: Buffer | null = null;

  constructor(private readonly maxLength: number) {}

  /**
   * Adds a chunk; returns the first complete packet and keeps the rest, or null while incomplete.
   * Throws 'length' when the declared length is impossible.
   */
  push(chunk: Buffer): Buffer | null {
    this.buf = this.buf ? Buffer.concat([this.buf, chunk]) : chunk;
    return this.take();
  }

  take(): Buffer | null {
    const b = this.buf;
    if (!b || b.length < 4) return null;
    const len = b.readInt32BE(0);
    if (len < 8 || len > this.maxLength) throw new RangeError(`startup packet length ${len}`);
    if (b.length < len) return null;
    this.buf = b.length > len ? b.subarray(len) : null;
    return b.subarray(0, len);
  }

  /** Bytes received after the last complete packet (the first typed messages, or TLS records). */
  rest(): Buffer | null {
    const b = this.buf;
    this.buf = null;
    return b;
  }
}
