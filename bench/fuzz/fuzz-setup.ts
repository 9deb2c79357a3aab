// Owns what a fuzz run needs around it: the table it writes, the session defaults good clients expect, and Sluice's config.
import type { FuzzEndpoint } from './fuzz-client.js';
import type { Defaults } from './good-client.js';

/** Runs SQL as a superuser in the fuzz database. */
export type AdminQuery = (sql: string, params?: unknown[]) => Promise<Record<string, unknown>[]>;

export interface FuzzUsers {
  /** Logs in with SCRAM; Sluice holds only its verifier and logs in to Postgres with the client's keys. */
  shared: { user: string; password: string };
  /** Sluice asks it for md5 and knows its password. */
  md5: { user: string; password: string };
}

/** Creates the COPY table both kinds of client write, and reads the settings a fresh session has. */
export async function prepareDatabase(query: AdminQuery, users: FuzzUsers): Promise<{ defaults: Defaults; sharedVerifier: string }> {
  await query('CREATE TABLE IF NOT EXISTS fuzz_copy (owner text NOT NULL, n int NOT NULL)');
  await query(`GRANT ALL ON fuzz_copy TO ${users.shared.user}, ${users.md5.user}`);
  const [row] = await query("SELECT current_setting('work_mem') AS wm, rolpassword FROM pg_authid WHERE rolname = $1", [users.shared.user]);
  const [sp] = await query("SELECT boot_val FROM pg_settings WHERE name = 'search_path'");
  if (!String(row?.rolpassword ?? '').startsWith('SCRAM-SHA-256$'))
    throw new Error(`${users.shared.user} has no SCRAM verifier in pg_authid`);
  return { defaults: { searchPath: String(sp.boot_val), workMem: String(row.wm) }, sharedVerifier: String(row.rolpassword) };
}

/** Sluice's settings for a fuzz run (JSON is YAML, so this goes into a config file as is). */
export function fuzzSluiceConfig(o: {
  port: number;
  pgHost: string;
  pgPort: number;
  database: string;
  users: FuzzUsers;
  sharedVerifier: string;
  httpPort?: number;
}): Record<string, unknown> {
  return {
    ...(o.httpPort ? { admin_http: { listen_addr: '127.0.0.1', port: o.httpPort } } : {}),
    listen_addr: '127.0.0.1',
    listen_port: o.port,
    auth_type: 'md5',
    pool_mode: 'transaction',
    default_pool_size: 8,
    query_wait_timeout: 30,
    server_connect_timeout: 5,
    // Untracked SETs pin their client, so no SET of a fuzz client may reach a good one.
    session_state: 'pin',
    // Hostile and good clients share 127.0.0.1: the fuzzer's wrong passwords must not lock the good ones out.
    auth_failure_limit: 0,
    server_tls: { sslmode: 'disable' },
    databases: { [o.database]: { host: o.pgHost, port: o.pgPort, dbname: o.database } },
    users: { [o.users.shared.user]: { password: o.sharedVerifier }, [o.users.md5.user]: { password: o.users.md5.password } },
  };
}

export function fuzzEndpoint(port: number, database: string, users: FuzzUsers): FuzzEndpoint {
  return { host: '127.0.0.1', port, shared: { ...users.shared, database }, md5: { ...users.md5, database } };
}
