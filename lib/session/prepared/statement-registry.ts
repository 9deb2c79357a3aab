// The statements clients have prepared, shared by content: one server-side name per (query text, parameter types).
import { createHash } from 'node:crypto';
import { withName, dropsAllStatements } from '../../protocol/statement-frames.js';

/** One distinct statement, whichever clients prepared it and under whatever names. */
export interface SharedStatement {
  /** The name it has on every server connection: sluice_ and a hash of its text and parameter types. */
  readonly name: string;
  readonly nameBytes: Buffer;
  /** The Parse frame that prepares it under that name. */
  readonly parse: Buffer;
  /** It is DISCARD ALL or DEALLOCATE ALL: running it drops every statement. */
  readonly dropsAll: boolean;
  /** Client names that refer to it. */
  refs: number;
}

const PREFIX = 'sluice_';
/** 128 bits of SHA-256: a collision between two different statements is not a practical concern. */
const HASH_BYTES = 16;

export class StatementRegistry {
  private readonly byName = new Map<string, SharedStatement>();

  get size(): number {
    return this.byName.size;
  }

  /**
   * The statement a client Parse describes, with one more reference: buf[start, end) is the Parse and
   * nameEnd the NUL after the client's name. Hashing happens once per client Parse, never per Bind.
   */
  acquire(buf: Buffer, start: number, end: number, nameEnd: number): SharedStatement {
    const digest = createHash('sha256')
      .update(buf.subarray(nameEnd + 1, end))
      .digest();
    const name = PREFIX + digest.toString('hex', 0, HASH_BYTES);
    let stmt = this.byName.get(name);
    if (!stmt) {
      const nameBytes = Buffer.from(name);
      stmt = {
        name,
        nameBytes,
        parse: withName(buf, start, end, start + 5, nameEnd, nameBytes),
        dropsAll: dropsAllStatements(buf, nameEnd + 1, end),
        refs: 0,
      };
      this.byName.set(name, stmt);
    }
    stmt.refs++;
    return stmt;
  }

  /** Takes a reference again (a client Close that turned out not to happen); re-adds it if it was dropped. */
  retain(stmt: SharedStatement): void {
    stmt.refs++;
    if (!this.byName.has(stmt.name)) this.byName.set(stmt.name, stmt);
  }

  /** A client name let go of the statement; the last one forgets it (servers may keep it until evicted). */
  release(stmt: SharedStatement): void {
    if (--stmt.refs > 0) return;
    if (this.byName.get(stmt.name) === stmt) this.byName.delete(stmt.name);
  }
}
