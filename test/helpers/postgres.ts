// Owns the real Postgres each integration test file runs against: a throwaway local server (or SLUICE_TEST_PG) with db `app` and fixed roles.
import pg from 'pg';
import { startLocalPostgres, type LocalPostgres } from '../../lib/local-postgres/instance.js';

export type RoleMethod = 'scram' | 'md5' | 'trust' | 'password';

/**
 * Fixed test roles. `method` is how the local server authenticates them over TCP
 * (see TEST_HBA); every role can use database `app` and the pgbench tables.
 */
export const ROLES = {
  alice: { user: 'alice', password: 'alice-secret', method: 'scram' },
  bob: { user: 'bob', password: 'bob-secret', method: 'md5' },
  carol: { user: 'carol', password: 'carol-secret', method: 'scram' },
  trusty: { user: 'trusty', password: '', method: 'trust' },
  plainuser: { user: 'plainuser', password: 'plain-secret', method: 'password' },
} as const satisfies Record<string, { user: string; password: string; method: RoleMethod }>;

/** Placed before the defaults (`local all all trust`, `host all all 127.0.0.1/32 scram-sha-256`). */
export const TEST_HBA = ['host all trusty 127.0.0.1/32 trust', 'host all plainuser 127.0.0.1/32 password', 'host all bob 127.0.0.1/32 md5'];

export const APP_DB = 'app';

export interface TestPostgres extends Omit<LocalPostgres, 'source'> {
  /** 'external' when SLUICE_TEST_PG points at an existing server (dataDir is then ''). */
  source: LocalPostgres['source'] | 'external';
  /** Defaults: superuser, that user's known password (ROLES or superuser), db `app`. */
  url(user?: string, password?: string, db?: string): string;
  /** Run SQL as superuser in db `app` through `pg` and return rows. */
  query(sql: string, params?: unknown[]): Promise<any[]>;
  /** Equivalent of `pgbench -i -s <scale>` into db `app` (server-side generated, no pgbench binary needed); once per scale. */
  pgbenchInit(scale?: number): Promise<void>;
  /** Local servers only (throws with SLUICE_TEST_PG): fast shutdown, start again on the same data dir and port. */
  restart(): Promise<void>;
  stop(): Promise<void>;
}

/** The slice of tap's Test we need, so any tap object (root `t` or subtest) fits. */
export interface TeardownHost {
  teardown(fn: () => unknown): void;
}

type Server = Omit<TestPostgres, 'url' | 'query' | 'pgbenchInit'> & { clientConfig(db: string): pg.ClientConfig };

const ALL_ROLES = Object.values(ROLES).map((r) => r.user);
// Serialises setup across parallel test files sharing one SLUICE_TEST_PG server.
const SETUP_LOCK_KEY = 0x51_1ce;

async function withClient<T>(config: pg.ClientConfig, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client(config);
  client.on('error', () => undefined); // A restart kills idle sessions; the awaited query reports it.
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end().catch(() => undefined);
  }
}

async function ignoreCode(promise: Promise<unknown>, code: string): Promise<void> {
  try {
    await promise;
  } catch (err) {
    if ((err as { code?: string }).code !== code) throw err;
  }
}

async function createRolesAndDb(server: Server): Promise<void> {
  await withClient(server.clientConfig('postgres'), async (c) => {
    await c.query('SELECT pg_advisory_lock($1)', [SETUP_LOCK_KEY]);
    for (const role of Object.values(ROLES)) {
      await ignoreCode(c.query(`CREATE ROLE ${role.user} LOGIN`), '42710'); // Exists on a reused server.
      // The stored verifier decides md5 vs SCRAM, so bob's is written while the session says md5.
      await c.query(`SET password_encryption = '${role.method === 'md5' ? 'md5' : 'scram-sha-256'}'`);
      const password = role.password ? c.escapeLiteral(role.password) : 'NULL';
      await c.query(`ALTER ROLE ${role.user} LOGIN PASSWORD ${password}`);
    }
    await ignoreCode(c.query(`CREATE DATABASE ${APP_DB} OWNER alice`), '42P04');
    await withClient(server.clientConfig(APP_DB), (app) => app.query(`GRANT ALL ON SCHEMA public TO ${ALL_ROLES.join(', ')}`));
    await c.query('SELECT pg_advisory_unlock($1)', [SETUP_LOCK_KEY]);
  });
}

const PGBENCH_TABLES = 'pgbench_accounts, pgbench_branches, pgbench_history, pgbench_tellers';

/** The statements of `pgbench -i` with server-side data generation (-I dtGvp). */
function pgbenchSchemaSql(scale: number): string {
  return `
    DROP TABLE IF EXISTS ${PGBENCH_TABLES};
    CREATE TABLE pgbench_history (tid int, bid int, aid int, delta int, mtime timestamp, filler char(22));
    CREATE TABLE pgbench_tellers (tid int not null, bid int, tbalance int, filler char(84)) WITH (fillfactor=100);
    CREATE TABLE pgbench_accounts (aid int not null, bid int, abalance int, filler char(84)) WITH (fillfactor=100);
    CREATE TABLE pgbench_branches (bid int not null, bbalance int, filler char(88)) WITH (fillfactor=100);
    INSERT INTO pgbench_branches (bid, bbalance) SELECT bid, 0 FROM generate_series(1, ${scale}) AS bid;
    INSERT INTO pgbench_tellers (tid, bid, tbalance)
      SELECT tid, (tid - 1) / 10 + 1, 0 FROM generate_series(1, ${scale * 10}) AS tid;
    INSERT INTO pgbench_accounts (aid, bid, abalance, filler)
      SELECT aid, (aid - 1) / 100000 + 1, 0, '' FROM generate_series(1, ${scale * 100000}) AS aid;
    ALTER TABLE pgbench_branches ADD PRIMARY KEY (bid);
    ALTER TABLE pgbench_tellers ADD PRIMARY KEY (tid);
    ALTER TABLE pgbench_accounts ADD PRIMARY KEY (aid);
    GRANT ALL ON ${PGBENCH_TABLES} TO ${ALL_ROLES.join(', ')};`;
}

async function hasPgbenchData(c: pg.Client, scale: number): Promise<boolean> {
  const tables = await c.query(`SELECT to_regclass('pgbench_branches') IS NOT NULL AND to_regclass('pgbench_accounts') IS NOT NULL AS ok`);
  if (!tables.rows[0].ok) return false;
  const counts = await c.query(
    'SELECT (SELECT count(*) FROM pgbench_branches)::int AS branches, (SELECT count(*) FROM pgbench_accounts)::int AS accounts',
  );
  return counts.rows[0].branches === scale && counts.rows[0].accounts === scale * 100000;
}

async function pgbenchInitOnce(server: Server, scale: number): Promise<void> {
  if (!Number.isInteger(scale) || scale < 1) throw new Error(`pgbench scale must be a positive integer: ${scale}`);
  await withClient(server.clientConfig(APP_DB), async (c) => {
    await c.query('SELECT pg_advisory_lock($1)', [SETUP_LOCK_KEY]);
    // A reused external server may already hold exactly this data set.
    if (!(await hasPgbenchData(c, scale))) {
      await c.query(pgbenchSchemaSql(scale));
      await c.query(`VACUUM ANALYZE ${PGBENCH_TABLES}`); // Not allowed inside the multi-statement string.
    }
    await c.query('SELECT pg_advisory_unlock($1)', [SETUP_LOCK_KEY]);
  });
}

function roleSecret(server: Server, user: string): string {
  if (user === server.superuser) return server.password;
  const role = Object.values(ROLES).find((r) => r.user === user);
  return role?.password ?? '';
}

function withHelpers(server: Server): TestPostgres {
  const pgbenchRuns = new Map<number, Promise<void>>();
  return {
    ...server,
    url(user = server.superuser, password = roleSecret(server, user), db = APP_DB) {
      const auth = password ? `${encodeURIComponent(user)}:${encodeURIComponent(password)}` : encodeURIComponent(user);
      return `postgres://${auth}@${server.host}:${server.port}/${encodeURIComponent(db)}`;
    },
    query: (sql, params) => withClient(server.clientConfig(APP_DB), async (c) => (await c.query(sql, params)).rows),
    pgbenchInit(scale = 1) {
      let run = pgbenchRuns.get(scale);
      if (!run) pgbenchRuns.set(scale, (run = pgbenchInitOnce(server, scale)));
      return run;
    },
  };
}

function localServer(local: LocalPostgres): Server {
  return {
    ...local,
    // The Unix socket with `local all all trust` skips a SCRAM round trip per helper query.
    clientConfig: (db) => ({ host: local.dataDir, port: local.port, user: local.superuser, database: db }),
    restart: () => local.restart(),
    stop: () => local.stop(),
  };
}

async function externalServer(urlText: string): Promise<Server> {
  const url = new URL(urlText);
  const clientConfig = (db: string) => {
    const withDb = new URL(url);
    withDb.pathname = `/${encodeURIComponent(db)}`;
    return { connectionString: withDb.toString() };
  };
  const [{ server_version: version }] = (await withClient(clientConfig('postgres'), (c) => c.query('SHOW server_version'))).rows;
  return {
    host: url.hostname,
    port: Number(url.port || 5432),
    superuser: decodeURIComponent(url.username),
    password: decodeURIComponent(url.password),
    dataDir: '',
    source: 'external',
    version: String(version).split(' ')[0],
    clientConfig,
    restart: async () => {
      throw new Error('restart() works only on the local throwaway server; unset SLUICE_TEST_PG to use it');
    },
    stop: async () => undefined, // Not ours to stop.
  };
}

/** Start (or connect to) Postgres for one test file, create db `app` and the roles, stop it at t's teardown. */
export async function startTestPostgres(t: TeardownHost, opts: { settings?: Record<string, string | number> } = {}): Promise<TestPostgres> {
  const external = process.env.SLUICE_TEST_PG;
  if (external && opts.settings) {
    throw new Error('server settings cannot be applied to SLUICE_TEST_PG; unset it to run this test on a local server');
  }
  const log = process.env.SLUICE_TEST_PG_LOG ? (line: string) => process.stderr.write(`[postgres] ${line}\n`) : undefined;
  const server = external
    ? await externalServer(external)
    : localServer(await startLocalPostgres({ hba: TEST_HBA, settings: opts.settings, log }));
  t.teardown(() => server.stop());
  await createRolesAndDb(server);
  return withHelpers(server);
}
