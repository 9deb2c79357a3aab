// Several writes to one socket that must leave together: one piece is a plain write, more are one corked write.

/** Where a batch goes: a socket, or a server connection writing to its own. */
export interface BatchTarget {
  write(piece: Buffer): unknown;
  cork(): void;
  uncork(): void;
}

/**
 * Between begin and end, the first piece waits; a second one corks the socket and both follow, so a
 * batch of one (a pipeline sent as it came, the usual case) skips the cork and the stream's buffered
 * path, and a batch of several still leaves in one syscall. Outside a batch, writes go straight out.
 */
export class BatchWrite {
  private target: BatchTarget | null = null;
  private held: Buffer | null = null;
  private corked = false;

  begin(target: BatchTarget): void {
    this.target = target;
  }

  /** Writes to `to` at once, or, while a batch is open on it, as part of that batch. */
  write(to: BatchTarget, piece: Buffer): void {
    if (this.target !== to) {
      to.write(piece);
      return;
    }
    if (!this.corked) {
      if (this.held === null) {
        this.held = piece;
        return;
      }
      this.corked = true;
      to.cork();
      to.write(this.held);
      this.held = null;
    }
    to.write(piece);
  }

  end(): void {
    const socket = this.target;
    if (!socket) return;
    this.target = null;
    if (this.held) socket.write(this.held);
    this.held = null;
    if (this.corked) socket.uncork();
    this.corked = false;
  }
}
