// Starts an in-process Sluice in front of a test Postgres, listening on port 0, stopped at teardown.
import nodePg from 'pg';
import { parseConfig } from '../../lib/config/schema.js';
import { Pooler } from '../../lib/pooler.js';
import { createLogger, silentLogger, type Logger } from '../../lib/log.js';
import type { SluiceConfig } from '../../lib/config/types.js';
import type { SocketReader } from '../../lib/socket-read.js';
import { ROLES, APP_DB, type TeardownHost, type TestPostgres } from './postgres.js';

export interface TestSluice {
  pooler: Pooler;
  port: number;
  config: SluiceConfig;
  /** A connection URL through Sluice for a test role (default alice, database app). */
  url(user?: keyof typeof ROLES, db?: string): string;
  /** pg / postgres.js connection options through Sluice. */
  options(user?: keyof typeof ROLES, db?: string): { host: string; port: number; user: string; password: string; database: string };
  /** Environment for psql/pgbench through Sluice. */
  env(user?: keyof typeof ROLES): NodeJS.ProcessEnv;
  reload(overrides: Record<string, unknown>): void;
  /**
   * A connected node-postgres client through Sluice, ended at teardown; its queries give up after 10 s, so a
   * lost answer fails the test instead of hanging it. Connection errors are left to the queries to report.
   */
  connect(user?: keyof typeof ROLES, db?: string): Promise<nodePg.Client>;
}

/** Every test role with its plaintext password, so Sluice can log in to Postgres as them. */
export function testUsers(): Record<string, { password?: string }> {
  const users: Record<string, { password?: string }> = {};
  for (const r of Object.values(ROLES)) users[r.user] = r.password ? { password: r.password } : {};
  return users;
}

export function buildConfig(pg: TestPostgres, overrides: Record<string, unknown> = {}): SluiceConfig {
  return parseConfig(rawConfig(pg, overrides), { baseDir: process.cwd() });
}

/** The YAML-level settings startSluice uses (JSON is YAML, so this can be written to a config file). */
export function rawConfig(pg: TestPostgres, overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    listen_addr: '127.0.0.1',
    listen_port: 0,
    auth_type: 'md5',
    pool_mode: 'transaction',
    default_pool_size: 5,
    query_wait_timeout: 30,
    server_connect_timeout: 5,
    databases: { [APP_DB]: { host: pg.host, port: pg.port, dbname: APP_DB } },
    users: testUsers(),
    ...overrides,
  };
}

export interface SluiceOptions {
  /** Where the pooler logs (default: nowhere, or stderr with SLUICE_TEST_LOG set). */
  log?: Logger;
  /** What RELOAD reads, as the CLI's config file would be. */
  configSource?: () => SluiceConfig;
  /** How sockets are read (default: SocketReader.detect()). */
  socketReader?: SocketReader;
}

export async function startSluice(
  t: TeardownHost,
  pg: TestPostgres,
  overrides: Record<string, unknown> = {},
  opts: SluiceOptions = {},
): Promise<TestSluice> {
  const config = buildConfig(pg, overrides);
  const log = opts.log ?? (process.env.SLUICE_TEST_LOG ? createLogger({ level: 'debug', destination: process.stderr }) : silentLogger());
  const pooler = new Pooler(config, { log, configSource: opts.configSource, socketReader: opts.socketReader });
  const addr = await pooler.listen();
  t.teardown(() => pooler.close());
  const options = (user: keyof typeof ROLES = 'alice', db = APP_DB) => ({
    host: '127.0.0.1',
    port: addr.port,
    user: ROLES[user].user,
    password: ROLES[user].password,
    database: db,
  });
  return {
    pooler,
    port: addr.port,
    config,
    options,
    url: (user = 'alice', db = APP_DB) => {
      const o = options(user, db);
      return `postgresql://${o.user}:${encodeURIComponent(o.password)}@127.0.0.1:${o.port}/${db}`;
    },
    env: (user = 'alice') => ({
      ...process.env,
      PGHOST: '127.0.0.1',
      PGPORT: String(addr.port),
      PGUSER: ROLES[user].user,
      PGPASSWORD: ROLES[user].password,
      PGDATABASE: APP_DB,
      PGCONNECT_TIMEOUT: '10',
    }),
    reload: (o) => pooler.reload(buildConfig(pg, { ...overrides, ...o, listen_port: 0 })),
    connect: async (user = 'alice', db = APP_DB) => {
      const c = new nodePg.Client({ ...options(user, db), query_timeout: 10_000 });
      c.on('error', () => undefined);
      await c.connect();
      t.teardown(() => c.end().catch(() => undefined));
      return c;
    },
  };
}
