// Owns turning a parsed pgbouncer.ini (and its userlist) into an equivalent Sluice config, listing what does not carry over.
import { MAX_TIMEOUT_SECONDS } from './fields.js';
import { parseUserlist } from './userlist.js';
import type { PgBouncerIni } from './pgbouncer-ini.js';
import { PGBOUNCER_SETTINGS } from './pgbouncer-settings.js';
import { clamp, pgbInteger, pgbList, pgbSeconds } from './pgbouncer-values.js';
import { importDatabases, importUsers } from './import-pgbouncer-sections.js';
import { absolutePath, invalid, reasonOf, type ImportDraft, type ImportIssue } from './import-draft.js';

export type { ImportIssue } from './import-draft.js';

export interface ImportResult {
  /** YAML-shaped (durations in seconds), ready for the schema and the YAML writer. */
  readonly config: Record<string, unknown>;
  /** Settings Sluice does not have (yet), or values it cannot take; the written file lacks them. */
  readonly unsupported: readonly ImportIssue[];
  /** Settings that carried over with a difference the operator should know about. */
  readonly notes: readonly ImportIssue[];
}

export interface ImportOptions {
  /** userlist.txt given on the command line: its users become tenants, and it is the auth_file. */
  readonly userlist?: { readonly path: string; readonly text: string };
  /** PgBouncer's working directory, which its relative paths are relative to; default process.cwd(). */
  readonly cwd?: string;
}

type Handler = (value: string, d: ImportDraft, key: string) => void;

const POOL_MODES = ['session', 'transaction'];
const AUTH_TYPES = ['md5', 'scram-sha-256', 'plain', 'trust', 'hba'];
// Sluice's own bounds (lib/config/schema.ts); a PgBouncer value beyond them is clamped with a note.
const MAX_PACKET = 1_073_741_823;

function integerInto(target: string, min: number, max = Number.MAX_SAFE_INTEGER): Handler {
  return (value, d, key) => {
    const n = pgbInteger(value);
    if (n === null) return invalid(d, key, value, 'an integer');
    const c = clamp(n, min, max);
    if (c.clamped) d.notes.push({ setting: key, reason: `${n} is outside Sluice's range ${min}-${max}; ${c.value} is used` });
    d.top[target] = c.value;
  };
}

function secondsInto(target: string): Handler {
  return (value, d, key) => {
    const s = pgbSeconds(value);
    if (s === null) return invalid(d, key, value, 'seconds');
    if (s > MAX_TIMEOUT_SECONDS)
      d.notes.push({ setting: key, reason: `${s} s is beyond Sluice's longest timeout; ${MAX_TIMEOUT_SECONDS} s is used` });
    d.top[target] = Math.min(s, MAX_TIMEOUT_SECONDS);
  };
}

const HANDLERS: Readonly<Record<string, Handler>> = {
  listen_addr: importListenAddr,
  listen_port: integerInto('listen_port', 0, 65535),
  pool_mode: (value, d, key) => {
    const mode = value.toLowerCase();
    if (POOL_MODES.includes(mode)) d.top.pool_mode = mode;
    else if (mode === 'statement') {
      d.top.pool_mode = 'transaction';
      d.unsupported.push({ setting: key, reason: 'not supported: statement mode; transaction mode, the closest, is used' });
    } else invalid(d, key, value, 'session, transaction or statement');
  },
  max_client_conn: integerInto('max_client_conn', 1),
  default_pool_size: integerInto('default_pool_size', 1),
  min_pool_size: integerInto('min_pool_size', 0),
  max_db_connections: (value, d, key) => {
    const n = pgbInteger(value);
    if (n === null) return invalid(d, key, value, 'an integer');
    if (n > 0) d.top.max_server_connections = n;
  },
  max_user_connections: (value, d, key) => globalLimit(value, d, key, 'limit'),
  max_user_client_connections: (value, d, key) => globalLimit(value, d, key, 'max_clients'),
  ignore_startup_parameters: (value, d) => {
    d.top.ignore_startup_parameters = pgbList(value);
  },
  stats_period: integerInto('stats_period', 1),
  max_prepared_statements: integerInto('max_prepared_statements', 0),
  auth_type: importAuthType,
  auth_file: (value, d) => {
    d.top.auth_file = absolutePath(d, value);
  },
  auth_hba_file: (value, d) => {
    if (value !== '') d.top.auth_hba_file = absolutePath(d, value);
  },
  // An integer in PgBouncer (CF_INT): any value but 0 turns keepalive on.
  tcp_keepalive: (value, d, key) => {
    const n = pgbInteger(value);
    if (n === null) return invalid(d, key, value, 'an integer');
    d.top.tcp_keepalive = n !== 0;
  },
  unix_socket_dir: (value, d) => {
    if (value !== '') d.top.unix_socket_dir = value.startsWith('@') ? value : absolutePath(d, value);
  },
  unix_socket_mode: (value, d, key) => {
    const n = pgbInteger(value);
    if (n === null || n < 0 || n > 0o777) return invalid(d, key, value, 'a mode such as 0777');
    d.top.unix_socket_mode = `0${n.toString(8).padStart(3, '0')}`;
  },
  unix_socket_group: (value, d) => {
    if (value !== '') d.top.unix_socket_group = value;
  },
  tcp_keepidle: integerInto('tcp_keepidle', 0, 32767),
  tcp_keepintvl: integerInto('tcp_keepintvl', 0, 32767),
  tcp_keepcnt: integerInto('tcp_keepcnt', 0, 127),
  tcp_user_timeout: integerInto('tcp_user_timeout', 0, 2 ** 31 - 1),
  admin_users: (value, d) => {
    d.top.admin_users = pgbList(value);
  },
  stats_users: (value, d) => {
    d.top.stats_users = pgbList(value);
  },
  server_reset_query: (value, d) => {
    d.top.server_reset_query = value;
  },
  server_lifetime: secondsInto('server_lifetime'),
  server_idle_timeout: secondsInto('server_idle_timeout'),
  server_connect_timeout: secondsInto('server_connect_timeout'),
  client_login_timeout: secondsInto('client_login_timeout'),
  query_wait_timeout: secondsInto('query_wait_timeout'),
  client_idle_timeout: secondsInto('client_idle_timeout'),
  idle_transaction_timeout: secondsInto('idle_transaction_timeout'),
  query_timeout: secondsInto('query_timeout'),
  transaction_timeout: secondsInto('transaction_timeout'),
  client_tls_sslmode: (value, d) => {
    d.clientTls.sslmode = value.toLowerCase();
  },
  client_tls_key_file: (value, d) => {
    if (value !== '') d.clientTls.key_file = absolutePath(d, value);
  },
  client_tls_cert_file: (value, d) => {
    if (value !== '') d.clientTls.cert_file = absolutePath(d, value);
  },
  client_tls_ca_file: (value, d) => {
    if (value !== '') d.clientTls.ca_file = absolutePath(d, value);
  },
  server_tls_sslmode: (value, d) => {
    d.serverTls.sslmode = value.toLowerCase();
  },
  server_tls_ca_file: (value, d) => {
    if (value !== '') d.serverTls.ca_file = absolutePath(d, value);
  },
  pkt_buf: integerInto('pkt_buf', 4096, MAX_PACKET),
  max_packet_size: integerInto('max_packet_size', 1024, MAX_PACKET),
};

function globalLimit(value: string, d: ImportDraft, key: string, field: 'limit' | 'max_clients'): void {
  const n = pgbInteger(value);
  if (n === null) return invalid(d, key, value, 'an integer');
  // 0 is PgBouncer's "no limit".
  if (n > 0) d.globalLimits[field] = n;
}

function importListenAddr(value: string, d: ImportDraft, key: string): void {
  const addrs = pgbList(value);
  if (addrs.length === 0) {
    d.notes.push({ setting: key, reason: 'empty: PgBouncer then listens on its Unix socket only; Sluice listens on TCP 127.0.0.1' });
    return;
  }
  if (addrs.length > 1) d.unsupported.push({ setting: key, reason: `not supported: several addresses; only ${addrs[0]} is used` });
  const first = addrs[0]!;
  if (first === '*') {
    d.top.listen_addr = '0.0.0.0';
    d.notes.push({ setting: key, reason: '"*" becomes 0.0.0.0: all IPv4 addresses (use "::" for IPv6 too where the host has it)' });
  } else if (first === 'localhost') {
    // Node listens on one address a name resolves to; PgBouncer on all of them. 127.0.0.1 is what clients of "localhost" reach first.
    d.top.listen_addr = '127.0.0.1';
    d.notes.push({ setting: key, reason: '"localhost" becomes 127.0.0.1: Sluice listens on one address' });
  } else {
    d.top.listen_addr = first;
  }
}

function importAuthType(value: string, d: ImportDraft, key: string): void {
  const type = value.toLowerCase();
  if (AUTH_TYPES.includes(type)) {
    d.top.auth_type = type;
    return;
  }
  // md5 accepts every kind of stored secret (asking SCRAM of users whose secret is SCRAM), so everyone who had a password keeps logging in.
  d.top.auth_type = 'md5';
  d.unsupported.push({ setting: key, reason: `not supported: auth_type ${type}; md5 is used` });
}

function importPgbouncerSection(ini: PgBouncerIni, d: ImportDraft): void {
  for (const { key, value } of ini.pgbouncer.values()) {
    const info = PGBOUNCER_SETTINGS[key];
    if (info === undefined) {
      d.unsupported.push({ setting: key, reason: 'not a PgBouncer 1.25 setting (PgBouncer refuses the file)' });
    } else if (info.status !== 'mapped') {
      d.unsupported.push({ setting: key, reason: reasonOf(info) });
    } else {
      HANDLERS[key]!(value, d, key);
    }
  }
}

/** Where PgBouncer's defaults differ from Sluice's, write PgBouncer's, so the imported config behaves the same. */
function keepPgBouncerDefaults(ini: PgBouncerIni, d: ImportDraft): void {
  const defaults: Record<string, unknown> = { pool_mode: 'session', max_client_conn: 100, auth_type: 'md5', unix_socket_dir: '/tmp' };
  for (const [key, value] of Object.entries(defaults)) {
    if (!ini.pgbouncer.has(key)) {
      d.top[key] = value;
      d.notes.push({ setting: key, reason: `not set: PgBouncer's default ${String(value)} is written, as Sluice's default differs` });
    }
  }
  if (!ini.pgbouncer.has('listen_addr')) {
    d.notes.push({
      setting: 'listen_addr',
      reason: 'not set: PgBouncer then listens on its Unix socket only; Sluice listens on TCP 127.0.0.1',
    });
  }
}

function finishTls(d: ImportDraft): void {
  const { sslmode = 'disable', ...files } = d.clientTls;
  if (sslmode !== 'disable') {
    if (files.cert_file === undefined || files.key_file === undefined) {
      d.unsupported.push({
        setting: 'client_tls_sslmode',
        reason: `${sslmode} needs client_tls_cert_file and client_tls_key_file; no client TLS is configured`,
      });
    } else {
      d.top.client_tls = { cert_file: files.cert_file, key_file: files.key_file, ...(files.ca_file ? { ca_file: files.ca_file } : {}) };
      if (sslmode === 'require' || sslmode.startsWith('verify')) {
        d.unsupported.push({
          setting: 'client_tls_sslmode',
          reason: `not supported: ${sslmode}; Sluice offers TLS but accepts clients without it and does not check client certificates`,
        });
      }
    }
  }
  const { sslmode: serverMode, ca_file: serverCa } = d.serverTls;
  if (serverMode === undefined && serverCa === undefined) return;
  const mode = serverMode === 'allow' ? 'prefer' : (serverMode ?? 'prefer');
  if (serverMode === 'allow') d.notes.push({ setting: 'server_tls_sslmode', reason: 'allow becomes prefer: Sluice tries TLS first' });
  d.top.server_tls = { sslmode: mode, ...(serverCa ? { ca_file: serverCa } : {}) };
}

/** One tenant per user, limited as PgBouncer limited the user; users without a limit get plain entries to tune. */
function suggestTenants(d: ImportDraft, userlistUsers: readonly string[]): Record<string, unknown> | undefined {
  const names = [...new Set([...userlistUsers, ...d.userLimits.keys()])].filter((n) => n !== 'default');
  const tenants: Record<string, unknown> = {};
  const global = d.globalLimits;
  if (global.limit !== undefined || global.max_clients !== undefined) tenants.default = { ...global };
  for (const name of names) {
    const own = d.userLimits.get(name) ?? {};
    // A listed tenant does not inherit tenants.default, so the global limits are written out for each.
    tenants[name] = { ...global, ...own };
  }
  return Object.keys(tenants).length === 0 ? undefined : tenants;
}

function userlistNames(opts: ImportOptions, d: ImportDraft): string[] {
  if (opts.userlist === undefined) return [];
  try {
    return [...parseUserlist(opts.userlist.text).keys()];
  } catch (err) {
    d.unsupported.push({ setting: 'userlist', reason: `cannot read ${opts.userlist.path}: ${(err as Error).message}` });
    return [];
  }
}

/** Map a parsed pgbouncer.ini (and optionally its userlist) to a Sluice config. */
export function importPgBouncer(ini: PgBouncerIni, opts: ImportOptions = {}): ImportResult {
  const d: ImportDraft = {
    top: {},
    clientTls: {},
    serverTls: {},
    databases: {},
    users: {},
    userLimits: new Map(),
    globalLimits: {},
    unsupported: [],
    notes: [],
    cwd: opts.cwd ?? process.cwd(),
  };
  importPgbouncerSection(ini, d);
  keepPgBouncerDefaults(ini, d);
  finishTls(d);
  importDatabases(ini, d);
  importUsers(ini, d);
  for (const peer of ini.peers.keys()) d.unsupported.push({ setting: `[peers] ${peer}`, reason: reasonOf(PGBOUNCER_SETTINGS.peer_id!) });
  if (opts.userlist !== undefined) {
    const path = absolutePath(d, opts.userlist.path);
    if (d.top.auth_file !== undefined && d.top.auth_file !== path) {
      d.notes.push({ setting: 'auth_file', reason: `the userlist given (${path}) is used instead of ${String(d.top.auth_file)}` });
    }
    d.top.auth_file = path;
  }
  if (d.top.auth_type !== 'trust' && d.top.auth_file === undefined) {
    d.unsupported.push({
      setting: 'auth_file',
      reason: `not set: Sluice needs a userlist for auth_type ${String(d.top.auth_type)} until auth_query lands (issue 17); give one with --userlist`,
    });
  }
  const tenants = suggestTenants(d, userlistNames(opts, d));
  const config: Record<string, unknown> = { ...d.top, databases: d.databases };
  if (Object.keys(d.users).length > 0) config.users = d.users;
  if (tenants !== undefined) config.tenants = tenants;
  if (Object.keys(d.databases).length === 0) {
    d.unsupported.push({ setting: '[databases]', reason: 'no database Sluice can serve: Sluice needs at least one under databases:' });
  }
  return { config, unsupported: d.unsupported, notes: d.notes };
}
