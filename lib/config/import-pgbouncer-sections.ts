// Owns importing pgbouncer.ini's [databases] and [users] lines: their connection strings, per entry, into Sluice's databases, users and tenant limits.
import { ConnStringError, parseConnString, type IniEntry, type PgBouncerIni } from './pgbouncer-ini.js';
import { DATABASE_PARAMETERS, USER_PARAMETERS, type SettingInfo } from './pgbouncer-settings.js';
import { pgbInteger } from './pgbouncer-values.js';
import { invalid, reasonOf, type ImportDraft } from './import-draft.js';
import { CONSOLE_DATABASES } from './schema.js';

const POOL_MODES = ['session', 'transaction'];

/** Split an entry's value; a syntax error drops the entry, as PgBouncer would refuse it. */
function pairsOf(entry: IniEntry, setting: string, d: ImportDraft): Map<string, string> | null {
  try {
    return parseConnString(entry.value);
  } catch (err) {
    if (!(err instanceof ConnStringError)) throw err;
    d.unsupported.push({ setting, reason: `syntax error at ${entry.file}:${entry.line}: ${err.message}; PgBouncer would refuse it too` });
    return null;
  }
}

/** Parameters the caller maps itself are `mapped`; the rest are reported from the table, unknown ones as such. */
function reportUnmapped(key: string, table: Readonly<Record<string, SettingInfo>>, setting: string, d: ImportDraft): boolean {
  const info = table[key];
  if (info === undefined) {
    d.unsupported.push({ setting, reason: 'not a PgBouncer parameter here (PgBouncer refuses the line)' });
    return true;
  }
  if (info.status === 'mapped') return false;
  d.unsupported.push({ setting, reason: reasonOf(info) });
  return true;
}

function positive(value: string, setting: string, d: ImportDraft, min: number): number | undefined {
  const n = pgbInteger(value);
  if (n === null) {
    invalid(d, setting, value, 'an integer');
    return undefined;
  }
  return n >= min ? n : undefined;
}

function poolMode(value: string, setting: string, d: ImportDraft): string {
  const mode = value.toLowerCase();
  if (POOL_MODES.includes(mode)) return mode;
  if (mode !== 'statement') invalid(d, setting, value, 'session, transaction or statement');
  else d.unsupported.push({ setting, reason: 'not supported: statement mode; transaction mode, the closest, is used' });
  return 'transaction';
}

/** The host (a Unix socket directory as is), or null when there is none to write. */
function hostOf(pairs: Map<string, string>, setting: string, d: ImportDraft): string | null {
  const host = pairs.get('host');
  if (host === undefined) {
    d.unsupported.push({
      setting: `${setting}: host`,
      reason:
        "not set: PgBouncer then uses the socket in its unix_socket_dir; Sluice needs the host written out (Postgres' socket directory, such as /var/run/postgresql), so the database is left out",
    });
    return null;
  }
  if (host.startsWith('/') || host.startsWith('@')) return host;
  const hosts = host
    .split(',')
    .map((h) => h.trim())
    .filter((h) => h !== '');
  if (hosts.length > 1)
    d.unsupported.push({ setting: `${setting}: host`, reason: `not supported: several hosts; only ${hosts[0]} is used` });
  return hosts[0] ?? null;
}

function importDatabase(name: string, entry: IniEntry, d: ImportDraft): void {
  const setting = `[databases] ${name}`;
  if (name === '*') {
    d.unsupported.push({ setting, reason: 'planned: the wildcard database (issue 17)' });
    return;
  }
  if (CONSOLE_DATABASES.includes(name)) {
    d.unsupported.push({ setting, reason: "the name is reserved for Sluice's admin console" });
    return;
  }
  const pairs = pairsOf(entry, setting, d);
  if (pairs === null) return;
  const host = hostOf(pairs, setting, d);
  for (const key of pairs.keys()) if (key !== 'host') reportUnmapped(key, DATABASE_PARAMETERS, `${setting}: ${key}`, d);
  if (host === null) return;
  const db: Record<string, unknown> = { host };
  for (const [key, value] of pairs) {
    const at = `${setting}: ${key}`;
    if (key === 'port') {
      const port = positive(value.split(',')[0]!, at, d, 1);
      if (port !== undefined && port <= 65535) db.port = port;
    } else if (key === 'dbname' || key === 'user' || key === 'password') db[key] = value;
    else if (key === 'pool_size' || key === 'max_db_connections') {
      const n = positive(value, at, d, 1);
      if (n !== undefined) db[key === 'pool_size' ? 'pool_size' : 'max_server_connections'] = n;
    } else if (key === 'min_pool_size') {
      const n = positive(value, at, d, 0);
      if (n !== undefined) db.min_pool_size = n;
    } else if (key === 'pool_mode') db.pool_mode = poolMode(value, at, d);
  }
  d.databases[name] = db;
}

/** [databases]: one Sluice database per line Sluice can serve. */
export function importDatabases(ini: PgBouncerIni, d: ImportDraft): void {
  for (const [name, entry] of ini.databases) importDatabase(name, entry, d);
}

function importUser(name: string, entry: IniEntry, d: ImportDraft): void {
  const setting = `[users] ${name}`;
  const pairs = pairsOf(entry, setting, d);
  if (pairs === null) return;
  const user: Record<string, unknown> = {};
  const limits: { limit?: number; max_clients?: number } = {};
  for (const [key, value] of pairs) {
    const at = `${setting}: ${key}`;
    if (reportUnmapped(key, USER_PARAMETERS, at, d)) continue;
    if (key === 'pool_mode') user.pool_mode = poolMode(value, at, d);
    else if (key === 'pool_size') {
      const n = positive(value, at, d, 1);
      if (n !== undefined) user.pool_size = n;
    } else {
      // max_user_connections / max_user_client_connections; 0 or less is PgBouncer's "use the global one".
      const n = positive(value, at, d, 1);
      if (n !== undefined) limits[key === 'max_user_connections' ? 'limit' : 'max_clients'] = n;
    }
  }
  if (Object.keys(user).length > 0) d.users[name] = user;
  d.userLimits.set(name, limits);
}

/** [users]: pool settings go to users.<name>, connection limits to the user's tenant. */
export function importUsers(ini: PgBouncerIni, d: ImportDraft): void {
  for (const [name, entry] of ini.users) importUser(name, entry, d);
}
