// Joins byte ranges that continue each other in memory, so a pipeline read in one chunk stays one buffer: the one range-merging helper.

/** buf[start, end) as a Buffer: buf itself when the range covers it, else a view. */
export function cut(buf: Buffer, start: number, end: number): Buffer {
  return start === 0 && end === buf.length ? buf : buf.subarray(start, end);
}

/**
 * One open range of a buffer, still uncut: a range that continues it in the same buffer only moves its
 * end, so relaying or keeping a chunk message by message costs no view per message. The buffer must
 * stay unchanged until the run is taken.
 */
export class ByteRun {
  private buf: Buffer | null = null;
  private start = 0;
  private end = 0;

  get empty(): boolean {
    return this.buf === null;
  }

  /**
   * Adds buf[start, end): it extends the run when it continues it (null is returned), else it starts a
   * new run and the previous one is returned cut, for the caller to pass on first (or null if none).
   */
  add(buf: Buffer, start: number, end: number): Buffer | null {
    if (this.buf === buf && this.end === start) {
      this.end = end;
      return null;
    }
    const previous = this.take();
    this.buf = buf;
    this.start = start;
    this.end = end;
    return previous;
  }

  /** The run cut out, and the run closed; null when there is none. */
  take(): Buffer | null {
    const buf = this.buf;
    if (buf === null) return null;
    this.buf = null;
    return cut(buf, this.start, this.end);
  }

  clear(): void {
    this.buf = null;
  }
}

/**
 * Appends `part` to `parts`; when it starts where the last part ends in the same memory, the last part
 * grows over it instead (a view, no copy). Parts must be appended in stream order and never change
 * afterwards: then adjacent memory holds exactly the concatenation.
 */
export function appendPart(parts: Buffer[], part: Buffer): void {
  const last = parts.length > 0 ? parts[parts.length - 1] : null;
  if (last !== null && last.buffer === part.buffer && last.byteOffset + last.length === part.byteOffset) {
    parts[parts.length - 1] = Buffer.from(last.buffer, last.byteOffset, last.length + part.length);
  } else parts.push(part);
}
