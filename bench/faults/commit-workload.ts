// Owns the fault scenario's writers: clients INSERTing unique ids in autocommit, recording each acknowledged commit and each error with its time.
import pg from 'pg';
import type { Connection } from '../core/pgbench.js';

export const COMMITS_TABLE = 'fault_commits';

/** One acknowledged commit: the id it wrote, when its INSERT was sent and when the answer came (ms, performance.now()). */
export interface Ack {
  id: number;
  sentAt: number;
  ackAt: number;
}

export interface ClientError {
  writer: number;
  at: number;
  /** SQLSTATE and message, or the driver's message for a lost connection. */
  what: string;
}

const ID_SPACE = 1_000_000_000;
const RECONNECT_PAUSE_MS = 50;
/** Longer than the 5 s SIGSTOP: a stalled INSERT waits for its backend rather than giving up. */
const QUERY_TIMEOUT_MS = 30_000;

export class CommitWorkload {
  readonly acks: Ack[] = [];
  readonly errors: ClientError[] = [];
  private running = true;
  private readonly loops: Promise<void>[];

  constructor(
    private readonly conn: Connection,
    writers: number,
  ) {
    this.loops = Array.from({ length: writers }, (_, w) => this.writer(w));
  }

  /** Acknowledged commits of each writer since `from` (ms): the first and the last ack time per writer. */
  acksSince(from: number): Ack[] {
    return this.acks.filter((a) => a.sentAt >= from);
  }

  async stop(): Promise<void> {
    this.running = false;
    await Promise.all(this.loops);
  }

  private async writer(w: number): Promise<void> {
    let seq = 0;
    while (this.running) {
      const client = new pg.Client({ ...this.conn, query_timeout: QUERY_TIMEOUT_MS, connectionTimeoutMillis: QUERY_TIMEOUT_MS });
      let broken = false;
      client.on('error', () => (broken = true));
      try {
        await client.connect();
        while (this.running && !broken) {
          const id = w * ID_SPACE + ++seq;
          const sentAt = performance.now();
          try {
            await client.query(`INSERT INTO ${COMMITS_TABLE} (id) VALUES ($1)`, [id]);
            this.acks.push({ id, sentAt, ackAt: performance.now() });
          } catch (err) {
            this.note(w, err);
            if ((err as { code?: string }).code === undefined) broken = true; // No SQLSTATE: the connection itself failed.
          }
        }
      } catch (err) {
        this.note(w, err);
      } finally {
        await client.end().catch(() => undefined);
      }
      if (this.running) await new Promise((r) => setTimeout(r, RECONNECT_PAUSE_MS));
    }
  }

  private note(writer: number, err: unknown): void {
    const code = (err as { code?: string }).code;
    this.errors.push({ writer, at: performance.now(), what: `${code ? `${code} ` : ''}${(err as Error).message}` });
  }
}
