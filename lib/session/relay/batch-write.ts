// Several writes to one socket that must leave together: one piece is a plain write, more are one corked write.
import { ByteRun, cut } from '../../protocol/byte-runs.js';

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
  private readonly held = new ByteRun();
  private corked = false;

  begin(target: BatchTarget): void {
    this.target = target;
  }

  /** buf[start, end) to `to`: at once, or, while a batch is open on it, as part of that batch. */
  write(to: BatchTarget, buf: Buffer, start = 0, end = buf.length): void {
    if (this.target !== to) {
      to.write(cut(buf, start, end));
      return;
    }
    const previous = this.held.add(buf, start, end);
    if (previous === null) return;
    if (!this.corked) {
      this.corked = true;
      to.cork();
    }
    to.write(previous);
  }

  /** Writes the held piece now (before the target is ended); the batch stays open. */
  flush(): void {
    if (!this.target) return;
    const piece = this.held.take();
    if (piece !== null) this.target.write(piece);
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
