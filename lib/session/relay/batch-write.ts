// Several writes to one socket that must leave together: one piece is a plain write; a few small pieces are copied into
// one buffer and written once; more than COALESCE_MAX bytes of separate pieces are one corked write.
import { ByteRun, cut } from '../../protocol/byte-runs.js';

/** Where a batch goes: a socket, or a server connection writing to its own. */
export interface BatchTarget {
  write(piece: Buffer): unknown;
  cork(): void;
  uncork(): void;
}

/** Separate pieces up to this many bytes in all are copied into one buffer rather than corked (a copy is cheaper than writev). */
const COALESCE_MAX = 4096;

/**
 * Between begin and end, pieces for the batch's target are held: a range that continues the held one
 * in the same buffer only extends it, so a chunk relayed message by message, or a pipeline sent as it
 * came, leaves as one plain write of the chunk with no cork and no view per message. Separate pieces
 * wait in a list; at the end, if they are small, they are copied into one buffer and leave in one plain
 * write; if they grow past COALESCE_MAX the target is corked and they go out as they come, so the batch
 * still leaves in one syscall, in order. Outside a batch, or to another target, writes go straight out.
 * Held buffers must stay unchanged until the batch ends.
 */
export class BatchWrite {
  private target: BatchTarget | null = null;
  private readonly held = new ByteRun();
  private corked = false;
  /** Finished pieces before the held one, not written yet (only while not corked). */
  private readonly pieces: Buffer[] = [];
  private piecesBytes = 0;

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
    if (this.corked) {
      to.write(previous);
      return;
    }
    this.pieces.push(previous);
    this.piecesBytes += previous.length;
    if (this.piecesBytes + (end - start) > COALESCE_MAX) this.spill(to);
  }

  /** Too much for one copy: cork and write what waits, as it came. */
  private spill(to: BatchTarget): void {
    this.corked = true;
    to.cork();
    for (const p of this.pieces) to.write(p);
    this.pieces.length = 0;
    this.piecesBytes = 0;
  }

  /** Writes what is held now (before the target is ended); the batch stays open. */
  flush(): void {
    const target = this.target;
    if (!target) return;
    const last = this.held.take();
    const n = this.pieces.length;
    if (n === 0) {
      if (last) target.write(last);
      return;
    }
    let total = this.piecesBytes + (last ? last.length : 0);
    // The held range grew past the limit after the pieces before it were kept (a chunk relayed message by message).
    if (total > COALESCE_MAX) {
      this.spill(target);
      if (last) target.write(last);
      return;
    }
    const out = Buffer.allocUnsafe(total);
    total = 0;
    for (let i = 0; i < n; i++) total += this.pieces[i]!.copy(out, total);
    if (last) last.copy(out, total);
    this.pieces.length = 0;
    this.piecesBytes = 0;
    target.write(out);
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
