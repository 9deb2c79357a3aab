// Whether a client's named statement may run on a server copy as is: the columns the client was shown against the copy's.
import { describesPortalNext } from '../../protocol/statement-frames.js';
import { rowShape, sameShape } from '../../protocol/row-shape.js';
import type { ServerStatements } from '../../pool/server-statements.js';
import type { Binding } from './client-names.js';

export class ShapeGate {
  /** The statement of the portal just bound, when the client's next message describes that portal. */
  private portal: Binding | null = null;

  /**
   * A Bind or Describe of b, on a copy whose shape is copyShape (null: unknown, or no copy). True when Sluice
   * must first learn what a fresh copy returns: the client was shown columns, and this copy is not known to
   * return them. Buf[start, end) is the request, isBind whether it is a Bind.
   */
  mustCheck(b: Binding, copyShape: Buffer | null, isBind: boolean, buf: Buffer, start: number, end: number): boolean {
    const shown = b.shape;
    // The common case: the copy is known to return what the client was shown (the same buffer, once compared).
    if (shown !== null && copyShape !== null && sameShape(copyShape, shown)) return false;
    // A client that describes the portal it binds is shown the columns again before any row: nothing to check,
    // and what it is shown is recorded.
    const describing = isBind && describesPortalNext(buf, start, end);
    this.portal = describing ? b : null;
    // A statement that returns no rows has no columns to decode wrongly (DDL cannot make it return rows).
    return shown !== null && shown.length > 0 && !describing;
  }

  /** The binding whose portal the current Describe('P') describes, if it is one to record; once. */
  takePortal(): Binding | null {
    const b = this.portal;
    this.portal = null;
    return b;
  }

  reset(): void {
    this.portal = null;
  }

  /** The client was shown buf[start, end) (RowDescription or NoData) for b, from its copy on lru's connection. */
  described(b: Binding, lru: ServerStatements, buf: Buffer, start: number, end: number): void {
    b.shape = rowShape(buf, start, end);
    lru.setShape(b.stmt.name, b.shape);
  }

  /** Sluice's own Describe of a fresh copy of b answered buf[start, end): whether it returns what the client was shown. */
  verified(b: Binding, lru: ServerStatements, buf: Buffer, start: number, end: number): boolean {
    const shape = rowShape(buf, start, end);
    const same = b.shape !== null && sameShape(shape, b.shape);
    lru.setShape(b.stmt.name, same ? (b.shape as Buffer) : shape);
    return same;
  }
}
