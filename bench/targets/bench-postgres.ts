// Owns the throwaway Postgres the bench runs against: settings, roles with SCRAM passwords, pgbench data.
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { startLocalPostgres, type LocalPostgres } from '../../lib/local-postgres/instance.js';
import type { Cleanup } from '../core/cleanup.js';
import { runChild } from '../core/child.js';

export const DATABASE = 'app';

/**
 * Login roles: `bench` for throughput, `writer` for the fault scenario (its commits wait for the WAL
 * write, since the server runs with synchronous_commit off), the rest are tenants of the isolation scenarios.
 */
export const ROLES = ['bench', 'victim', 'noisy', 'tenant_a', 'tenant_b', 'tenant_c', 'writer'] as const;
export type Role = (typeof ROLES)[number];

export interface BenchPostgres {
  readonly server: LocalPostgres;
  readonly version: string;
  readonly password: Readonly<Record<Role, string>>;
  /** Each role's SCRAM verifier as Postgres stores it, for the poolers' auth files. */
  readonly scramSecrets: ReadonlyMap<Role, string>;
  /** Runs SQL as superuser over the Unix socket (no pooler, no SCRAM). */
  query<T = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<T[]>;
  /** A dedicated superuser connection, for samplers that query often. */
  connect(): Promise<pg.Client>;
}

/** §3.1 of the isolation notes: no parallel workers, so one query is one backend's CPU. */
const SETTINGS = {
  max_connections: 1100,
  shared_buffers: '256MB',
  max_parallel_workers_per_gather: 0,
  log_min_messages: 'warning',
};

/** A superuser client whose connection loss (Postgres stopping on Ctrl-C) fails its query, not the process. */
async function connectClient(config: pg.ClientConfig): Promise<pg.Client> {
  const client = new pg.Client(config);
  client.on('error', () => undefined);
  await client.connect();
  return client;
}

async function withClient<T>(config: pg.ClientConfig, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const client = await connectClient(config);
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

async function createRoles(socketConfig: (db: string) => pg.ClientConfig, password: Record<Role, string>): Promise<void> {
  await withClient(socketConfig('postgres'), async (c) => {
    await c.query(`CREATE DATABASE ${DATABASE}`);
    await c.query(`SET password_encryption = 'scram-sha-256'`);
    for (const role of ROLES) await c.query(`CREATE ROLE ${role} LOGIN PASSWORD ${c.escapeLiteral(password[role])}`);
    // A backend killed with -9 makes Postgres restart from its WAL: an acknowledged commit must be there.
    await c.query('ALTER ROLE writer SET synchronous_commit = on');
  });
}

/** `pgbench -i` with server-side data generation; then every role may read and write the tables. */
async function loadPgbenchData(cleanup: Cleanup, server: LocalPostgres, scale: number): Promise<void> {
  const env = { ...process.env, PGHOST: server.dataDir, PGPORT: String(server.port), PGUSER: server.superuser, PGDATABASE: DATABASE };
  const result = await runChild(cleanup, 'pgbench', ['-i', '-q', '-I', 'dtGvp', '-s', String(scale)], { env, timeoutMs: 600_000 });
  if (result.code !== 0) throw new Error(`pgbench -i failed: ${result.stderr.trim()}`);
}

export async function startBenchPostgres(cleanup: Cleanup, scale: number): Promise<BenchPostgres> {
  const server = await startLocalPostgres({ settings: SETTINGS });
  cleanup.add(() => server.stop());
  const socketConfig = (db: string): pg.ClientConfig => ({ host: server.dataDir, port: server.port, user: server.superuser, database: db });
  const password = Object.fromEntries(ROLES.map((r) => [r, randomBytes(12).toString('base64url')])) as Record<Role, string>;
  await createRoles(socketConfig, password);
  await loadPgbenchData(cleanup, server, scale);
  const query = <T>(sql: string, params?: unknown[]) =>
    withClient(socketConfig(DATABASE), async (c) => (await c.query(sql, params)).rows as T[]);
  await query(`GRANT ALL ON ALL TABLES IN SCHEMA public TO ${ROLES.join(', ')}`);
  const rows = await query<{ rolname: Role; rolpassword: string }>('SELECT rolname, rolpassword FROM pg_authid WHERE rolname = ANY($1)', [
    ROLES,
  ]);
  return {
    server,
    version: server.version,
    password,
    scramSecrets: new Map(rows.map((r) => [r.rolname, r.rolpassword])),
    query,
    connect: () => connectClient(socketConfig(DATABASE)),
  };
}
