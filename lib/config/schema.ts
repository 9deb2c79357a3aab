// Owns the configuration schema: defaults, validation with human messages, cross-setting checks, and the frozen snapshot.
import { accessSync, constants, readFileSync } from 'node:fs';
import { resolve as resolvePath } from 'node:path';
import { z } from 'zod';
import type {
  AuthType,
  ClientTlsConfig,
  DatabaseConfig,
  PoolMode,
  ServerTlsConfig,
  SessionStatePolicy,
  SluiceConfig,
  SslMode,
  UnixSocketSettings,
  UserConfig,
  UserSecret,
} from './types.js';
import { parseSecret, parseUserlist, UserlistError } from './userlist.js';
import {
  expecting,
  flag,
  integer,
  namedSections,
  names,
  oneOf,
  seconds,
  secretText,
  section,
  startupParameterNames,
  text,
} from './fields.js';
import { buildIsolation, isolationShape } from './isolation-schema.js';
import { buildAdminHttp, buildMetrics, observabilityShape } from './observability-schema.js';
import { buildTcp, tcpShape } from './tcp-schema.js';
import { buildUnixSocket, unixSocketShape } from './unix-socket-schema.js';
import { HbaFileError, loadHbaFile, type HbaFile } from './hba-file.js';

/** A configuration that was refused; `problems` holds one `path: reason` line per problem. */
export class ConfigError extends Error {
  readonly problems: string[];

  constructor(problems: string[]) {
    super(problems.join('\n'));
    this.name = 'ConfigError';
    this.problems = problems;
  }
}

/** Defaults of every top-level setting, in snapshot units: durations are milliseconds here, seconds in YAML. */
export const DEFAULTS = Object.freeze({
  listen_addr: '127.0.0.1',
  listen_port: 6432,
  auth_type: 'scram-sha-256' as AuthType,
  auth_plain_without_tls: false,
  admin_users: Object.freeze([]) as readonly string[],
  stats_users: Object.freeze([]) as readonly string[],
  // Far above what people mistyping a password reach, low enough that a password storm costs little.
  auth_failure_limit: 50,
  auth_failure_window: 60_000,
  auth_failure_lockout: 30_000,
  pool_mode: 'transaction' as PoolMode,
  default_pool_size: 20,
  min_pool_size: 0,
  max_client_conn: 1000,
  server_idle_timeout: 600_000,
  server_lifetime: 3_600_000,
  server_connect_timeout: 15_000,
  query_wait_timeout: 120_000,
  client_idle_timeout: 0,
  client_login_timeout: 60_000,
  idle_transaction_timeout: 0,
  query_timeout: 0,
  transaction_timeout: 0,
  server_reset_query: 'DISCARD ALL',
  // PgBouncer passes such statements through; Sluice does too by default, and logs a warning for each.
  session_state: 'allow' as SessionStatePolicy,
  ignore_startup_parameters: [] as readonly string[],
  max_packet_size: 1_073_741_823,
  // PgBouncer's pkt_buf is 4 KiB of C buffer; Node moves data in chunks of up to 64 KiB, so a few of those.
  pkt_buf: 262_144,
  max_prepared_statements: 200,
  server_tls: Object.freeze({ sslmode: 'prefer' as SslMode }),
  // Below Kubernetes' default 30 s termination grace period, so Sluice closes cleanly before it is killed.
  shutdown_timeout: 20_000,
  stats_period: 60_000,
}) satisfies Partial<SluiceConfig>;

/** The pseudo-databases clients connect to for the admin console; no real database may use these names. */
export const CONSOLE_DATABASES: readonly string[] = Object.freeze(['pgbouncer', 'sluice']);

const POSTGRES_PORT = 5432;
const AUTH_TYPES = ['scram-sha-256', 'md5', 'plain', 'trust', 'hba'] as const satisfies readonly AuthType[];
const POOL_MODES = ['session', 'transaction'] as const satisfies readonly PoolMode[];
const SSL_MODES = ['disable', 'prefer', 'require', 'verify-ca', 'verify-full'] as const satisfies readonly SslMode[];
const SESSION_STATE_POLICIES = ['pin', 'reject', 'allow'] as const satisfies readonly SessionStatePolicy[];
// Postgres refuses messages of 1 GiB or more; below 1 KiB not even a startup packet fits.
const MIN_PACKET_SIZE = 1024;
const MAX_PACKET_SIZE = 1_073_741_823;
// Below a few KiB every read would pause; above 1 GiB it bounds nothing a message could not already take.
const MIN_PKT_BUF = 4096;

// ---- The YAML shape. ----

const databaseSchema = section({
  host: text(),
  port: integer(1, 65535).default(POSTGRES_PORT),
  dbname: text().optional(),
  user: text().optional(),
  password: secretText().optional(),
  pool_mode: oneOf(POOL_MODES).optional(),
  pool_size: integer(1).optional(),
  min_pool_size: integer(0).optional(),
  max_server_connections: integer(1).optional(),
  session_state: oneOf(SESSION_STATE_POLICIES).optional(),
});

const userSchema = section({
  password: secretText().optional(),
  pool_mode: oneOf(POOL_MODES).optional(),
  pool_size: integer(1).optional(),
  session_state: oneOf(SESSION_STATE_POLICIES).optional(),
});

/** Accepted and ignored until the module that owns the section replaces this with its own schema. */
const reservedSection = z.unknown().optional();

const configSchema = z.strictObject(
  {
    listen_addr: text().default(DEFAULTS.listen_addr),
    // 0 asks the OS for a free port, which tests rely on.
    listen_port: integer(0, 65535).default(DEFAULTS.listen_port),
    auth_type: oneOf(AUTH_TYPES).default(DEFAULTS.auth_type),
    auth_plain_without_tls: flag(DEFAULTS.auth_plain_without_tls),
    auth_hba_file: text().optional(),
    auth_file: text().optional(),
    admin_users: names(DEFAULTS.admin_users),
    stats_users: names(DEFAULTS.stats_users),
    auth_failure_limit: integer(0).default(DEFAULTS.auth_failure_limit),
    auth_failure_window: seconds(DEFAULTS.auth_failure_window),
    auth_failure_lockout: seconds(DEFAULTS.auth_failure_lockout),
    pool_mode: oneOf(POOL_MODES).default(DEFAULTS.pool_mode),
    default_pool_size: integer(1).default(DEFAULTS.default_pool_size),
    min_pool_size: integer(0).default(DEFAULTS.min_pool_size),
    max_client_conn: integer(1).default(DEFAULTS.max_client_conn),
    server_idle_timeout: seconds(DEFAULTS.server_idle_timeout),
    server_lifetime: seconds(DEFAULTS.server_lifetime),
    server_connect_timeout: seconds(DEFAULTS.server_connect_timeout),
    query_wait_timeout: seconds(DEFAULTS.query_wait_timeout),
    client_idle_timeout: seconds(DEFAULTS.client_idle_timeout),
    client_login_timeout: seconds(DEFAULTS.client_login_timeout),
    idle_transaction_timeout: seconds(DEFAULTS.idle_transaction_timeout),
    query_timeout: seconds(DEFAULTS.query_timeout),
    transaction_timeout: seconds(DEFAULTS.transaction_timeout),
    server_reset_query: text({ allowEmpty: true }).default(DEFAULTS.server_reset_query),
    session_state: oneOf(SESSION_STATE_POLICIES).default(DEFAULTS.session_state),
    ignore_startup_parameters: startupParameterNames(DEFAULTS.ignore_startup_parameters),
    max_packet_size: integer(MIN_PACKET_SIZE, MAX_PACKET_SIZE).default(DEFAULTS.max_packet_size),
    pkt_buf: integer(MIN_PKT_BUF, MAX_PACKET_SIZE).default(DEFAULTS.pkt_buf),
    max_prepared_statements: integer(0).default(DEFAULTS.max_prepared_statements),
    client_tls: section({ cert_file: text(), key_file: text(), ca_file: text().optional() }).optional(),
    server_tls: section({ sslmode: oneOf(SSL_MODES).default(DEFAULTS.server_tls.sslmode), ca_file: text().optional() }).default({
      sslmode: DEFAULTS.server_tls.sslmode,
    }),
    databases: namedSections(databaseSchema, 'database').refine((dbs) => Object.keys(dbs).length > 0, {
      error: 'at least one database is required',
    }),
    users: namedSections(userSchema, 'user').default({}),
    ...isolationShape,
    ...observabilityShape,
    ...tcpShape,
    ...unixSocketShape,
    admin: reservedSection,
    shutdown_timeout: seconds(DEFAULTS.shutdown_timeout),
    stats_period: seconds(DEFAULTS.stats_period),
  },
  { error: expecting('a mapping of settings') },
);

type RawConfig = z.output<typeof configSchema>;

// ---- Turning zod issues into `path: reason` lines. ----

function formatPath(path: readonly PropertyKey[]): string {
  if (path.length === 0) return 'config';
  return path
    .map((segment, i) => {
      if (typeof segment === 'number') return `[${segment}]`;
      const name = String(segment);
      const shown = /^[^\s."[\]]+$/.test(name) ? name : JSON.stringify(name);
      return i === 0 ? shown : `.${shown}`;
    })
    .join('');
}

export function formatIssues(issues: readonly z.core.$ZodIssue[]): string[] {
  const lines = issues.flatMap((iss) =>
    iss.code === 'unrecognized_keys'
      ? iss.keys.map((key) => `${formatPath([...iss.path, key])}: unknown setting`)
      : [`${formatPath(iss.path)}: ${iss.message}`],
  );
  // Several checks on one value share a message; an operator needs to read it once.
  return [...new Set(lines)];
}

// ---- From validated YAML to the snapshot. ----

export interface ParseOptions {
  /** Directory that relative paths (auth_file, TLS files) are resolved against: the config file's. */
  readonly baseDir: string;
  /** Reads auth_file; defaults to fs.readFileSync(path, 'utf8'). */
  readonly readFile?: (path: string) => string;
  /** Whether a TLS certificate/key file can be read; defaults to an fs.accessSync(R_OK) check. */
  readonly fileExists?: (path: string) => boolean;
  /** Where admin_http.token_env is looked up; defaults to process.env. */
  readonly env?: NodeJS.ProcessEnv;
}

/**
 * Validate raw YAML data and build the frozen snapshot. Throws ConfigError listing every problem:
 * first all problems of shape and type; once those are fixed, all cross-setting problems.
 */
export function parseConfig(raw: unknown, opts: ParseOptions): SluiceConfig {
  const result = configSchema.safeParse(raw);
  if (!result.success) throw new ConfigError(formatIssues(result.error.issues));
  const cfg = result.data;
  const problems: string[] = [];
  const authFile = cfg.auth_file === undefined ? undefined : resolvePath(opts.baseDir, cfg.auth_file);
  const secrets = collectSecrets(cfg, authFile, opts.readFile ?? readUtf8, problems);
  const secretsComplete = problems.length === 0;
  const hba = loadHba(cfg, opts, problems);
  checkPoolSizes(cfg, problems);
  checkOperations(cfg, problems);
  checkAuth(cfg, secrets, secretsComplete, problems);
  const clientTls = cfg.client_tls && resolveFiles(cfg.client_tls, ['cert_file', 'key_file', 'ca_file'], 'client_tls', opts, problems);
  const serverTls = resolveFiles(cfg.server_tls, ['ca_file'], 'server_tls', opts, problems);
  const scheduler = buildIsolation(cfg, smallestBudget(cfg), problems);
  const readFile = opts.readFile ?? readUtf8;
  const adminHttp = buildAdminHttp(cfg, { baseDir: opts.baseDir, readFile, env: opts.env ?? process.env }, problems);
  if (problems.length > 0) throw new ConfigError(problems);
  return Object.freeze({
    listen_addr: cfg.listen_addr,
    listen_port: cfg.listen_port,
    auth_type: cfg.auth_type,
    auth_plain_without_tls: cfg.auth_plain_without_tls,
    ...(authFile === undefined ? {} : { auth_file: authFile }),
    ...(hba === undefined ? {} : { auth_hba_file: resolvePath(opts.baseDir, cfg.auth_hba_file!), hba }),
    secrets: new FrozenMap(secrets),
    admin_users: Object.freeze(cfg.admin_users),
    stats_users: Object.freeze(cfg.stats_users),
    auth_failure_limit: cfg.auth_failure_limit,
    auth_failure_window: cfg.auth_failure_window,
    auth_failure_lockout: cfg.auth_failure_lockout,
    pool_mode: cfg.pool_mode,
    default_pool_size: cfg.default_pool_size,
    min_pool_size: cfg.min_pool_size,
    max_client_conn: cfg.max_client_conn,
    server_idle_timeout: cfg.server_idle_timeout,
    server_lifetime: cfg.server_lifetime,
    server_connect_timeout: cfg.server_connect_timeout,
    query_wait_timeout: cfg.query_wait_timeout,
    client_idle_timeout: cfg.client_idle_timeout,
    client_login_timeout: cfg.client_login_timeout,
    idle_transaction_timeout: cfg.idle_transaction_timeout,
    query_timeout: cfg.query_timeout,
    transaction_timeout: cfg.transaction_timeout,
    server_reset_query: cfg.server_reset_query,
    session_state: cfg.session_state,
    ignore_startup_parameters: Object.freeze(cfg.ignore_startup_parameters),
    max_packet_size: cfg.max_packet_size,
    pkt_buf: cfg.pkt_buf,
    shutdown_timeout: cfg.shutdown_timeout,
    stats_period: cfg.stats_period,
    tcp: buildTcp(cfg),
    ...unixSocketOf(cfg),
    max_prepared_statements: cfg.max_prepared_statements,
    ...(clientTls === undefined ? {} : { client_tls: clientTls as ClientTlsConfig }),
    server_tls: serverTls as ServerTlsConfig,
    databases: new FrozenMap(Object.entries(cfg.databases).map(([name, db]) => [name, buildDatabase(name, db)])),
    users: new FrozenMap(Object.entries(cfg.users).map(([name, user]) => [name, buildUser(name, user)])),
    ...(cfg.max_server_connections === undefined ? {} : { max_server_connections: cfg.max_server_connections }),
    scheduler,
    metrics: buildMetrics(cfg),
    ...(adminHttp === undefined ? {} : { admin_http: adminHttp }),
  });
}

function unixSocketOf(cfg: RawConfig): { unix_socket?: UnixSocketSettings } {
  const unix = buildUnixSocket(cfg);
  return unix === undefined ? {} : { unix_socket: unix };
}

/** What smallestBudget reads: the YAML shape and the snapshot both fit. */
export interface BudgetSizes {
  readonly databases: Record<string, { readonly max_server_connections?: number; readonly pool_size?: number }>;
  readonly users: Record<string, { readonly pool_size?: number }>;
  readonly max_server_connections?: number;
  readonly default_pool_size: number;
}

/** The database with the fewest slots: reservations and headroom must fit even there. */
export function smallestBudget(cfg: BudgetSizes): { name: string; slots: number } | null {
  let best: { name: string; slots: number } | null = null;
  for (const [name, db] of Object.entries(cfg.databases)) {
    const slots = db.max_server_connections ?? cfg.max_server_connections ?? db.pool_size ?? cfg.default_pool_size;
    if (!best || slots < best.slots) best = { name: `databases.${name}`, slots };
    // Without a shared budget each pool is its own, sized by users.*.pool_size where set.
    if (db.max_server_connections !== undefined || cfg.max_server_connections !== undefined) continue;
    for (const [user, u] of Object.entries(cfg.users)) {
      if (u.pool_size !== undefined && u.pool_size < best.slots)
        best = { name: `databases.${name} (users.${user}.pool_size)`, slots: u.pool_size };
    }
  }
  return best;
}

function readUtf8(path: string): string {
  return readFileSync(path, 'utf8');
}

function isReadable(path: string): boolean {
  try {
    accessSync(path, constants.R_OK);
    return true;
  } catch {
    return false;
  }
}

/** auth_file entries merged with inline `users.*.password`; the inline one wins. */
function collectSecrets(
  cfg: RawConfig,
  authFile: string | undefined,
  readFile: (path: string) => string,
  problems: string[],
): Map<string, UserSecret> {
  let secrets = new Map<string, UserSecret>();
  if (authFile !== undefined) {
    try {
      secrets = parseUserlist(readFile(authFile));
    } catch (err) {
      const reasons = err instanceof UserlistError ? err.problems : [describeReadError(err)];
      problems.push(...reasons.map((reason) => `auth_file: ${authFile}: ${reason}`));
    }
  }
  for (const [name, user] of Object.entries(cfg.users)) {
    if (user.password === undefined) continue;
    try {
      secrets.set(name, parseSecret(user.password));
    } catch (err) {
      problems.push(`${formatPath(['users', name, 'password'])}: ${(err as Error).message}`);
    }
  }
  return secrets;
}

/**
 * auth_hba_file, required by auth_type: hba. A bad line is skipped with a warning (PgBouncer's way, kept in
 * the snapshot for the log); an unreadable file refuses the config, as an unreadable auth_file does.
 */
function loadHba(cfg: RawConfig, opts: ParseOptions, problems: string[]): HbaFile | undefined {
  if (cfg.auth_hba_file === undefined) {
    if (cfg.auth_type === 'hba') problems.push('auth_type: hba needs auth_hba_file');
    return undefined;
  }
  try {
    return loadHbaFile(resolvePath(opts.baseDir, cfg.auth_hba_file), { readFile: opts.readFile ?? readUtf8 });
  } catch (err) {
    if (!(err instanceof HbaFileError)) throw err;
    problems.push(`auth_hba_file: ${err.message}`);
    return undefined;
  }
}

function describeReadError(err: unknown): string {
  const code = (err as NodeJS.ErrnoException).code;
  return code === undefined ? `cannot read: ${(err as Error).message}` : `cannot read (${code})`;
}

function checkPoolSizes(cfg: RawConfig, problems: string[]): void {
  if (cfg.min_pool_size > cfg.default_pool_size) {
    problems.push(`min_pool_size: ${cfg.min_pool_size} exceeds default_pool_size ${cfg.default_pool_size}`);
  }
  for (const [name, db] of Object.entries(cfg.databases)) {
    // Databases that override neither size inherit the top-level pair, already checked above.
    if (db.min_pool_size === undefined && db.pool_size === undefined) continue;
    const min = db.min_pool_size ?? cfg.min_pool_size;
    const size = db.pool_size ?? cfg.default_pool_size;
    if (min <= size) continue;
    problems.push(
      db.min_pool_size !== undefined
        ? `${formatPath(['databases', name, 'min_pool_size'])}: ${min} exceeds ${db.pool_size !== undefined ? 'pool_size' : 'default_pool_size'} ${size}`
        : `${formatPath(['databases', name, 'pool_size'])}: ${size} is below the top-level min_pool_size ${min}`,
    );
  }
}

function checkOperations(cfg: RawConfig, problems: string[]): void {
  if (cfg.stats_period < 1000) problems.push(`stats_period: expected seconds >= 1, got ${cfg.stats_period / 1000}`);
  if (cfg.auth_failure_limit > 0 && cfg.auth_failure_window === 0) {
    problems.push(
      'auth_failure_window: expected seconds > 0 while auth_failure_limit is on (set auth_failure_limit: 0 to turn throttling off)',
    );
  }
  for (const name of Object.keys(cfg.databases)) {
    if (CONSOLE_DATABASES.includes(name)) problems.push(`${formatPath(['databases', name])}: the name is reserved for the admin console`);
  }
}

function checkAuth(cfg: RawConfig, secrets: ReadonlyMap<string, UserSecret>, secretsComplete: boolean, problems: string[]): void {
  if (cfg.auth_type === 'plain' && cfg.client_tls === undefined && !cfg.auth_plain_without_tls) {
    problems.push(
      'auth_type: plain sends passwords in cleartext, and client_tls is not configured; ' +
        'configure client_tls, or set auth_plain_without_tls: true to accept cleartext passwords without TLS',
    );
  }
  // hba rules may say trust for everyone; the login code refuses a password method without a secret.
  if (cfg.auth_type === 'trust' || cfg.auth_type === 'hba') return;
  const hasInline = Object.values(cfg.users).some((user) => user.password !== undefined);
  if (cfg.auth_file === undefined && !hasInline) {
    problems.push(
      `auth_type: ${cfg.auth_type} needs passwords to check, but there are none; ` +
        'set auth_file, or give users a password under users.<name>.password',
    );
    return;
  }
  // A bad auth_file or inline password is already reported; "no password" lines would only be noise.
  if (!secretsComplete) return;
  for (const key of ['admin_users', 'stats_users'] as const) {
    for (const name of cfg[key]) {
      if (!secrets.has(name)) {
        problems.push(`${key}: ${JSON.stringify(name)} has no password in auth_file or users.${name}.password, so cannot log in`);
      }
    }
  }
}

/** Resolve the named file settings against baseDir and check that each can be read. */
function resolveFiles<T extends Record<string, unknown>>(
  settings: T,
  keys: readonly string[],
  prefix: string,
  opts: ParseOptions,
  problems: string[],
): T {
  const resolved: Record<string, unknown> = { ...settings };
  for (const key of keys) {
    const file = settings[key];
    if (typeof file !== 'string') continue;
    resolved[key] = resolvePath(opts.baseDir, file);
    if (!(opts.fileExists ?? isReadable)(resolved[key] as string)) {
      problems.push(`${prefix}.${key}: cannot read ${resolved[key] as string}`);
    }
  }
  return Object.freeze(resolved) as T;
}

function buildDatabase(name: string, db: RawConfig['databases'][string]): DatabaseConfig {
  const built: Record<string, unknown> = { name, host: db.host, port: db.port, dbname: db.dbname ?? name };
  for (const key of ['user', 'pool_mode', 'pool_size', 'min_pool_size', 'max_server_connections', 'session_state'] as const) {
    if (db[key] !== undefined) built[key] = db[key];
  }
  // Non-enumerable: a snapshot that ends up in a log line or an error must not carry the password.
  if (db.password !== undefined) {
    Object.defineProperty(built, 'password', { value: db.password, enumerable: false, writable: false });
  }
  return Object.freeze(built) as unknown as DatabaseConfig;
}

function buildUser(name: string, user: RawConfig['users'][string]): UserConfig {
  const built: Record<string, unknown> = { name };
  if (user.pool_mode !== undefined) built.pool_mode = user.pool_mode;
  if (user.pool_size !== undefined) built.pool_size = user.pool_size;
  if (user.session_state !== undefined) built.session_state = user.session_state;
  return Object.freeze(built) as unknown as UserConfig;
}

/** A Map that refuses changes after construction, so a shared snapshot cannot drift under its readers. */
class FrozenMap<K, V> extends Map<K, V> {
  constructor(entries: Iterable<readonly [K, V]>) {
    super();
    for (const [key, value] of entries) super.set(key, value);
    Object.freeze(this);
  }

  override set(_key: K, _value: V): this {
    throw new TypeError('the configuration snapshot is read-only');
  }

  override delete(_key: K): boolean {
    throw new TypeError('the configuration snapshot is read-only');
  }

  override clear(): void {
    throw new TypeError('the configuration snapshot is read-only');
  }
}
