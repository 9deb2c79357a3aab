// Talks to Sluice's admin console the way operators' tools do: psql and node-postgres on database `pgbouncer`.
import pg from 'pg';
import { run } from './run.js';
import type { TeardownHost } from './postgres.js';
import type { TestSluice } from './sluice.js';
import type { ROLES } from './postgres.js';

/** PgBouncer's documented columns of each SHOW command (doc/usage.md, PgBouncer 1.25), in its order. */
export const PGBOUNCER_COLUMNS = {
  pools: [
    'database',
    'user',
    'cl_active',
    'cl_waiting',
    'cl_active_cancel_req',
    'cl_waiting_cancel_req',
    'sv_active',
    'sv_active_cancel',
    'sv_being_canceled',
    'sv_idle',
    'sv_used',
    'sv_tested',
    'sv_login',
    'maxwait',
    'maxwait_us',
    'pool_mode',
    'load_balance_hosts',
  ],
  stats: [
    'database',
    'total_server_assignment_count',
    'total_xact_count',
    'total_query_count',
    'total_received',
    'total_sent',
    'total_xact_time',
    'total_query_time',
    'total_wait_time',
    'total_client_parse_count',
    'total_server_parse_count',
    'total_bind_count',
    'total_client_login_count',
    'avg_server_assignment_count',
    'avg_xact_count',
    'avg_query_count',
    'avg_recv',
    'avg_sent',
    'avg_xact_time',
    'avg_query_time',
    'avg_wait_time',
    'avg_client_parse_count',
    'avg_server_parse_count',
    'avg_bind_count',
    'avg_client_login_count',
  ],
  clients: [
    'type',
    'user',
    'database',
    'replication',
    'state',
    'addr',
    'port',
    'local_addr',
    'local_port',
    'connect_time',
    'request_time',
    'wait',
    'wait_us',
    'close_needed',
    'ptr',
    'link',
    'remote_pid',
    'tls',
    'application_name',
    'prepared_statements',
    'id',
  ],
  servers: [
    'type',
    'user',
    'database',
    'replication',
    'state',
    'addr',
    'port',
    'local_addr',
    'local_port',
    'connect_time',
    'request_time',
    'wait',
    'wait_us',
    'close_needed',
    'ptr',
    'link',
    'remote_pid',
    'tls',
    'application_name',
    'prepared_statements',
    'id',
  ],
  databases: [
    'name',
    'host',
    'port',
    'database',
    'force_user',
    'pool_size',
    'min_pool_size',
    'reserve_pool_size',
    'server_lifetime',
    'pool_mode',
    'load_balance_hosts',
    'max_connections',
    'current_connections',
    'max_client_connections',
    'current_client_connections',
    'paused',
    'disabled',
  ],
  users: [
    'name',
    'pool_size',
    'reserve_pool_size',
    'pool_mode',
    'max_user_connections',
    'current_connections',
    'max_user_client_connections',
    'current_client_connections',
  ],
  config: ['key', 'value', 'default', 'changeable'],
  lists: ['list', 'items'],
  version: ['version'],
} as const;

export type Role = keyof typeof ROLES;

/** A node-postgres client on the console, closed at teardown. */
export async function consoleClient(t: TeardownHost, sluice: TestSluice, user: Role = 'alice', db = 'pgbouncer'): Promise<pg.Client> {
  const c = new pg.Client(sluice.options(user, db));
  c.on('error', () => undefined);
  await c.connect();
  t.teardown(() => c.end().catch(() => undefined));
  return c;
}

export interface PsqlTable {
  code: number | null;
  columns: string[];
  rows: string[][];
  out: string;
  err: string;
}

/** Runs one console command through psql (unaligned, with the header line) and splits the table. */
export async function psqlConsole(sluice: TestSluice, command: string, user: Role = 'alice'): Promise<PsqlTable> {
  const r = await run('psql', ['-X', '-A', '-F', '\t', '-P', 'footer=off', '-c', command, 'pgbouncer'], {
    env: { ...sluice.env(user), PG_COLOR: 'never' },
  });
  const lines = r.out === '' ? [] : r.out.split('\n');
  const [head, ...rest] = lines;
  return { code: r.code, columns: head ? head.split('\t') : [], rows: rest.map((l) => l.split('\t')), out: r.out, err: r.err };
}

/** Polls until check() is true, for effects that land a little after the command that caused them. */
export async function eventually(what: string, check: () => Promise<boolean> | boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!(await check())) {
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
