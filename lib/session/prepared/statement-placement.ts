// What Sluice sends a server connection so that a client's statement is there: room made in its LRU, a doubtful copy closed, the Parse, and the Describe that shows a copy's columns.
import { closeStatement, describeStatement, Flush } from '../../protocol/statement-frames.js';
import type { ServerConnection } from '../../pool/server-connection.js';
import type { Pool } from '../../pool/pool.js';
import { ReplyKind } from '../relay/reply-queue.js';
import type { StatementReplies } from '../relay/statement-replies.js';
import type { SharedStatement } from './statement-registry.js';

// Why Sluice closed a statement.
const EVICTED = 0;
const DOUBTED = 1;

const ALREADY_EXISTS = '42P05';

export class StatementPlacement {
  private conn: ServerConnection | null = null;
  private pool: Pool | null = null;

  constructor(
    private readonly replies: StatementReplies,
    /** Writes a frame of Sluice's own after the client's messages before it. */
    private readonly write: (frame: Buffer) => void,
  ) {}

  attach(conn: ServerConnection, pool: Pool): void {
    this.conn = conn;
    this.pool = pool;
  }

  detach(): void {
    this.conn = null;
  }

  /** A Bind or Describe uses stmt. `present`: the connection has it (and it was just touched); else it is prepared first. */
  ensure(stmt: SharedStatement, present: boolean): void {
    const stats = (this.pool as Pool).preparedStats;
    if (present) {
      stats.hits++;
      return;
    }
    stats.misses++;
    this.place(stmt);
    this.replies.expect(ReplyKind.Prepare, stmt.name);
  }

  /** The client's own Parse of stmt: a hit (true, nothing sent) or Sluice writes what must go before it. */
  beforeClientParse(stmt: SharedStatement): boolean {
    const lru = (this.conn as ServerConnection).statements;
    const stats = (this.pool as Pool).preparedStats;
    if (lru.has(stmt.name)) {
      lru.touch(stmt.name);
      stats.hits++;
      return true;
    }
    stats.misses++;
    this.place(stmt);
    return false;
  }

  /**
   * Closes whatever copy of stmt the connection has, prepares it afresh and describes it, flushed: the
   * caller expects the Describe's answer (a Verify entry) and holds what depends on it.
   */
  prepareAndDescribe(stmt: SharedStatement): void {
    const lru = (this.conn as ServerConnection).statements;
    if (lru.has(stmt.name)) {
      lru.remove(stmt.name);
      this.write(closeStatement(stmt.name));
      this.replies.expect(ReplyKind.Close, stmt.name, DOUBTED);
    }
    this.ensure(stmt, false);
    this.write(describeStatement(stmt.nameBytes));
    this.write(Flush);
  }

  /** Writes the Parse that prepares stmt here, after closing what must go first (LRU victims, a doubtful old copy). */
  private place(stmt: SharedStatement): void {
    const conn = this.conn as ServerConnection;
    const pool = this.pool as Pool;
    const lru = conn.statements;
    const max = Math.max(1, pool.settings.maxPreparedStatements);
    for (let victim = lru.victim(max); victim !== null; victim = lru.victim(max)) {
      lru.remove(victim);
      this.write(closeStatement(victim));
      this.replies.expect(ReplyKind.Close, victim, EVICTED);
      pool.preparedStats.evictions++;
    }
    if (lru.isDoubtful(stmt.name)) {
      lru.settle(stmt.name);
      this.write(closeStatement(stmt.name));
      this.replies.expect(ReplyKind.Close, stmt.name, DOUBTED);
    }
    lru.add(stmt.name);
    pool.stats.serverParseCount++;
    this.write(stmt.parse);
  }

  /** A Parse of Sluice's name failed with `sqlstate` or (null) was skipped: the connection does not have it as such. */
  parseUndone(name: string, sqlstate: string | null): void {
    const lru = (this.conn as ServerConnection).statements;
    if (sqlstate === ALREADY_EXISTS) lru.doubt(name);
    else lru.remove(name);
  }

  /** A Close of Sluice's was skipped: it closed nothing. */
  closeUndone(name: string, why: number): void {
    const lru = (this.conn as ServerConnection).statements;
    if (why === EVICTED) lru.add(name);
    else lru.doubt(name);
  }
}
