// Several writes to one socket that must leave together: one piece is a plain write, more are one corked write.

/** Where a batch goes: a socket, or a server connection writing to its own. */
export interface BatchTarget {
  write(piece: Buffer): unknown;
  cork(): void;
  uncork(): void;
}

/**
 * Between begin and end, pieces for the batch's target are held: a range that continues the held one
 * in the same buffer only extends it, so a chunk relayed message by message, or a pipeline sent as it
 * came, leaves as one plain write of the chunk with no cork and no view per message. A separate piece
 * corks the target, so the batch still leaves in one syscall, in order. Outside a batch, or to another
 * target, writes go straight out. Held buffers must stay unchanged until the batch ends.
 */
export class BatchWrite {
  private target: BatchTarget | null = null;
  private held: Buffer | null = null;
  private heldStart = 0;
  private heldEnd = 0;
  private corked = false;

  begin(target: BatchTarget): void {
    this.target = target;
  }

  /** buf[start, end) to `to`: at once, or, while a batch is open on it, as part of that batch. */
  write(to: BatchTarget, buf: Buffer, start = 0, end = buf.length): void {
    if (this.target !== to) {
      to.write(slice(buf, start, end));
      return;
    }
    if (this.held === buf && this.heldEnd === start) {
      this.heldEnd = end;
      return;
    }
    if (this.held) {
      if (!this.corked) {
        this.corked = true;
        to.cork();
      }
      this.flush();
    }
    this.held = buf;
    this.heldStart = start;
    this.heldEnd = end;
  }

  /** Writes the held piece now (before the target is ended); the batch stays open. */
  flush(): void {
    const buf = this.held;
    if (!buf || !this.target) return;
    this.held = null;
    this.target.write(slice(buf, this.heldStart, this.heldEnd));
  }

  end(): void {
    const target = this.target;
    if (!target) return;
    this.flush();
    this.target = null;
    if (this.corked) {
      this.corked = false;
      target.uncork();
    }
  }
}

function slice(buf: Buffer, start: number, end: number): Buffer {
  return start === 0 && end === buf.length ? buf : buf.subarray(start, end);
}
