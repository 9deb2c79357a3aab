// Owns the soak's mixed load: steady clients running simple, extended, prepared and transaction work, and a churn of clients that come, query and go (some without saying goodbye).
import pg from 'pg';
import type { Connection } from '../core/pgbench.js';
import { sleep } from '../scenarios/scenario.js';

export interface SoakCounts {
  transactions: number;
  errors: number;
  connects: number;
  abrupt: number;
  errorSample: string[];
}

/** Distinct statement texts the steady clients prepare, so the statement cache keeps turning over. */
const STATEMENT_TEXTS = 64;
const PACE_MS = 10;
const CHURN_EVERY_MS = 100;

async function oneTransaction(c: pg.Client, n: number): Promise<void> {
  const aid = 1 + ((n * 7919) % 100_000);
  switch (n % 5) {
    case 0:
      await c.query('SELECT abalance FROM pgbench_accounts WHERE aid = 1');
      break;
    case 1:
      await c.query('SELECT abalance FROM pgbench_accounts WHERE aid = $1', [aid]);
      break;
    case 2:
      await c.query({
        name: `soak_${n % STATEMENT_TEXTS}`,
        text: `SELECT abalance, ${n % STATEMENT_TEXTS} AS k FROM pgbench_accounts WHERE aid = $1`,
        values: [aid],
      });
      break;
    case 3:
      await c.query('BEGIN');
      await c.query('UPDATE pgbench_accounts SET abalance = abalance + 1 WHERE aid = $1', [aid]);
      await c.query('COMMIT');
      break;
    default:
      await c.query(`SET application_name = 'soak_${n % 16}'`);
  }
}

export class SoakWorkload {
  readonly counts: SoakCounts = { transactions: 0, errors: 0, connects: 0, abrupt: 0, errorSample: [] };
  private running = true;
  private readonly loops: Promise<void>[];

  constructor(
    private readonly conn: Connection,
    steadyClients: number,
  ) {
    this.loops = [...Array.from({ length: steadyClients }, (_, i) => this.steady(i)), this.churn()];
  }

  async stop(): Promise<void> {
    this.running = false;
    await Promise.all(this.loops);
  }

  private note(err: unknown): void {
    this.counts.errors++;
    if (this.counts.errorSample.length < 5) this.counts.errorSample.push((err as Error).message);
  }

  private async client(): Promise<pg.Client> {
    const c = new pg.Client({ ...this.conn, query_timeout: 30_000 });
    c.on('error', () => undefined); // The awaited query reports it.
    await c.connect();
    this.counts.connects++;
    return c;
  }

  private async steady(i: number): Promise<void> {
    for (let n = i; this.running; ) {
      let c: pg.Client | null = null;
      try {
        c = await this.client();
        for (; this.running; n++) {
          await oneTransaction(c, n);
          this.counts.transactions++;
          await sleep(PACE_MS);
        }
      } catch (err) {
        this.note(err);
        await sleep(100);
      } finally {
        await c?.end().catch(() => undefined);
      }
    }
  }

  /** A client arrives every CHURN_EVERY_MS, runs a few transactions and leaves; one in four just drops its socket. */
  private async churn(): Promise<void> {
    const inFlight = new Set<Promise<void>>();
    for (let n = 0; this.running; n++) {
      const visit = this.visit(n).finally(() => inFlight.delete(visit));
      inFlight.add(visit);
      await sleep(CHURN_EVERY_MS);
    }
    await Promise.all(inFlight);
  }

  private async visit(n: number): Promise<void> {
    let c: pg.Client | null = null;
    try {
      c = await this.client();
      for (let k = 0; k < 1 + (n % 5); k++) await oneTransaction(c, n + k), this.counts.transactions++;
      if (n % 4 === 0) {
        (c as unknown as { connection: { stream: { destroy(): void } } }).connection.stream.destroy();
        this.counts.abrupt++;
      }
    } catch (err) {
      this.note(err);
    } finally {
      await c?.end().catch(() => undefined);
    }
  }
}
