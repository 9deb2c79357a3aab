// Owns the baseline target: clients talk to Postgres itself, with no pooler and no shared budget.
import type { BenchPostgres } from './bench-postgres.js';
import type { Endpoint, Target } from './target.js';

export class DirectTarget implements Target {
  readonly name = 'direct' as const;

  constructor(private readonly postgres: BenchPostgres) {}

  version(): string {
    return `PostgreSQL ${this.postgres.version}`;
  }

  /** Pool settings do not apply: every client gets its own backend. */
  async start(): Promise<Endpoint> {
    return { target: this.name, host: this.postgres.server.host, port: this.postgres.server.port };
  }

  async stop(): Promise<void> {}
}
