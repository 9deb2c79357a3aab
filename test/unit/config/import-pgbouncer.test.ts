// Tests for importing pgbouncer.ini into a Sluice config: PgBouncer's own example, each mapped setting, and what is listed as not carried over.
import t from 'tap';
import { parse as parseYaml } from 'yaml';
import { importPgBouncer, type ImportResult } from '../../../lib/config/import-pgbouncer.js';
import { importToYaml } from '../../../lib/config/import-yaml.js';
import { parsePgBouncerIni } from '../../../lib/config/pgbouncer-ini.js';
import { PGBOUNCER_SETTINGS } from '../../../lib/config/pgbouncer-settings.js';
import { parseConfig } from '../../../lib/config/schema.js';
import { pgbouncerSourceFile } from '../../helpers/pgbouncer-anchor.js';

const USERLIST = '"alice" "md5d8578edf8458ce06fbc5bb76a58c5ca4"\n"bob" "secret-b"\n"admin" "adminpw"\n';

const fromTarball = pgbouncerSourceFile;

function importText(text: string, opts: Parameters<typeof importPgBouncer>[1] = {}): ImportResult {
  return importPgBouncer(parsePgBouncerIni(text, '/etc/pgbouncer/pgbouncer.ini'), { cwd: '/etc/pgbouncer', ...opts });
}

/** Sluice's own validation, with auth_file and TLS files stubbed: the paths are the PgBouncer host's. */
function validate(config: unknown) {
  return parseConfig(config, { baseDir: '/etc/sluice', readFile: () => USERLIST, fileExists: () => true });
}

function reasonFor(result: ImportResult, setting: string): string | undefined {
  return result.unsupported.find((i) => i.setting === setting)?.reason;
}

t.test("PgBouncer's own etc/pgbouncer.ini imports and validates", async (t) => {
  const example = fromTarball('etc/pgbouncer.ini');
  const bare = importText(example);
  t.match(reasonFor(bare, 'logfile'), /^planned: /);
  t.match(reasonFor(bare, 'pidfile'), /^planned: /);
  t.match(reasonFor(bare, '[databases]'), /at least one/, 'the example defines no database, which Sluice needs');
  t.same(bare.config.auth_type, 'md5');
  t.same(bare.config.auth_file, '/etc/pgbouncer/userlist.txt');
  t.same(bare.config.listen_addr, '127.0.0.1', 'localhost becomes one address');
  t.same(bare.config.pool_mode, 'session', "PgBouncer's default pool mode is kept");
  t.same(bare.config.max_client_conn, 100);
  // The same file with one database added, as a user would after reading the report.
  const withDb = importText(example.replace('[databases]\n', '[databases]\napp = host=10.0.0.5 dbname=app\n'), {
    userlist: { path: '/etc/pgbouncer/userlist.txt', text: USERLIST },
  });
  const snapshot = validate(withDb.config);
  t.equal(snapshot.databases.get('app')?.host, '10.0.0.5');
  t.equal(snapshot.pool_mode, 'session');
  t.same([...snapshot.scheduler.tenants.keys()].sort(), ['admin', 'alice', 'bob'], 'one tenant per user of the userlist');
  const yaml = importToYaml(withDb, { source: '/etc/pgbouncer/pgbouncer.ini' });
  t.match(yaml, /^# Imported from \/etc\/pgbouncer\/pgbouncer.ini/);
  t.match(yaml, /#\s+logfile: planned/);
  t.ok(validate(parseYaml(yaml)), 'the written YAML validates too');
});

t.test("the settings table covers every setting of PgBouncer's doc/config.md", async (t) => {
  const doc = fromTarball('doc/config.md');
  const start = doc.indexOf('## Generic settings');
  const end = doc.indexOf('## Section [databases]');
  const documented = [...doc.slice(start, end).matchAll(/^### (\S+)$/gm)].map((m) => m[1]!);
  t.equal(documented.length, 99);
  t.same(Object.keys(PGBOUNCER_SETTINGS).sort(), [...documented].sort());
});

t.test('each [pgbouncer] setting Sluice has maps', async (t) => {
  const result = importText(
    [
      '[databases]',
      "app = host=db1 port=5433 dbname=appdb user=svc password='p w' pool_size=30 min_pool_size=2 max_db_connections=40 pool_mode=transaction",
      '[pgbouncer]',
      'listen_addr = *',
      'listen_port = 7432',
      'auth_type = scram-sha-256',
      'auth_file = users.txt',
      'admin_users = admin, bob',
      'stats_users = alice',
      'pool_mode = transaction',
      'max_client_conn = 500',
      'default_pool_size = 25',
      'min_pool_size = 1',
      'max_db_connections = 50',
      'ignore_startup_parameters = extra_float_digits, search_path',
      'stats_period = 30',
      'max_prepared_statements = 0',
      'server_reset_query = DISCARD ALL',
      'server_lifetime = 1800',
      'server_idle_timeout = 60',
      'server_connect_timeout = 5',
      'client_login_timeout = 30',
      'query_wait_timeout = 0.5',
      'client_idle_timeout = 3600',
      'idle_transaction_timeout = 10',
      'pkt_buf = 8192',
      'max_packet_size = 2147483647',
      'client_tls_sslmode = prefer',
      'client_tls_cert_file = tls/server.crt',
      'client_tls_key_file = tls/server.key',
      'server_tls_sslmode = verify-full',
      'server_tls_ca_file = /etc/ssl/pg-ca.pem',
    ].join('\n'),
  );
  t.same(result.unsupported, []);
  const c = result.config;
  t.same(
    [c.listen_addr, c.listen_port, c.auth_type, c.auth_file, c.admin_users, c.stats_users, c.pool_mode, c.max_client_conn],
    ['0.0.0.0', 7432, 'scram-sha-256', '/etc/pgbouncer/users.txt', ['admin', 'bob'], ['alice'], 'transaction', 500],
  );
  t.same(
    [c.default_pool_size, c.min_pool_size, c.max_server_connections, c.ignore_startup_parameters],
    [25, 1, 50, ['extra_float_digits', 'search_path']],
  );
  t.same(
    [c.stats_period, c.max_prepared_statements, c.server_reset_query, c.server_lifetime, c.server_idle_timeout],
    [30, 0, 'DISCARD ALL', 1800, 60],
  );
  t.same(
    [c.server_connect_timeout, c.client_login_timeout, c.query_wait_timeout, c.client_idle_timeout, c.idle_transaction_timeout],
    [5, 30, 0.5, 3600, 10],
  );
  t.same([c.pkt_buf, c.max_packet_size], [8192, 1_073_741_823]);
  t.match(result.notes.find((n) => n.setting === 'max_packet_size')?.reason, /outside Sluice's range/);
  t.same(c.client_tls, { cert_file: '/etc/pgbouncer/tls/server.crt', key_file: '/etc/pgbouncer/tls/server.key' });
  t.same(c.server_tls, { sslmode: 'verify-full', ca_file: '/etc/ssl/pg-ca.pem' });
  t.same(c.databases, {
    app: {
      host: 'db1',
      port: 5433,
      dbname: 'appdb',
      user: 'svc',
      password: 'p w',
      pool_size: 30,
      min_pool_size: 2,
      max_server_connections: 40,
      pool_mode: 'transaction',
    },
  });
  const snapshot = validate(c);
  t.equal(snapshot.query_wait_timeout, 500, 'seconds in YAML, milliseconds in the snapshot');
});

t.test('each setting Sluice lacks is listed with its reason', async (t) => {
  const lacking = Object.entries(PGBOUNCER_SETTINGS).filter(([, info]) => info.status !== 'mapped');
  const result = importText(
    ['[databases]', 'app = host=h', '[pgbouncer]', ...lacking.map(([key]) => `${key} = 1`), 'no_such_setting = 1'].join('\n'),
    { userlist: { path: 'userlist.txt', text: USERLIST } },
  );
  for (const [key, info] of lacking) {
    t.equal(reasonFor(result, key), `${info.status === 'planned' ? 'planned' : 'not supported'}: ${info.note}`, key);
  }
  t.match(reasonFor(result, 'no_such_setting'), /not a PgBouncer 1.25 setting/);
  t.ok(validate(result.config));
});

t.test('values Sluice cannot take', async (t) => {
  const result = importText(
    [
      '[databases]',
      'app = host=h,h2 port=5432 reserve_pool_size=5 client_encoding=UTF8 bogus=1',
      'sock = host=/var/run/postgresql',
      'nohost = dbname=x',
      '* = host=fallback',
      'sluice = host=h',
      "broken = host='x",
      '[users]',
      'bob = pool_mode=statement pool_size=3 query_timeout=5',
      '[peers]',
      '1 = host=/tmp/pgb1',
      '[pgbouncer]',
      'pool_mode = statement',
      'auth_type = pam',
      'listen_addr = 10.0.0.1, 10.0.0.2',
      'listen_port = abc',
      'client_tls_sslmode = require',
      'client_tls_cert_file = a.crt',
      'client_tls_key_file = a.key',
      'server_tls_sslmode = allow',
    ].join('\n'),
    { userlist: { path: 'userlist.txt', text: USERLIST } },
  );
  t.match(reasonFor(result, 'pool_mode'), /statement mode/);
  t.equal(result.config.pool_mode, 'transaction');
  t.match(reasonFor(result, 'auth_type'), /^not supported: auth_type pam/);
  t.equal(result.config.auth_type, 'md5', 'md5 takes every kind of stored secret');
  t.match(reasonFor(result, 'listen_addr'), /only 10.0.0.1 is used/);
  t.match(reasonFor(result, 'listen_port'), /invalid value "abc"/);
  t.match(reasonFor(result, 'client_tls_sslmode'), /accepts clients without it/);
  t.same((result.config.server_tls as { sslmode: string }).sslmode, 'prefer');
  t.match(reasonFor(result, '[databases] app: host'), /only h is used/);
  t.match(reasonFor(result, '[databases] app: reserve_pool_size'), /^not supported/);
  t.match(reasonFor(result, '[databases] app: client_encoding'), /ALTER DATABASE/);
  t.match(reasonFor(result, '[databases] app: bogus'), /not a PgBouncer parameter/);
  t.equal(reasonFor(result, '[databases] sock: host'), undefined, 'a socket directory carries over');
  t.match(reasonFor(result, '[databases] nohost: host'), /unix_socket_dir/);
  t.match(reasonFor(result, '[databases] *'), /^planned: the wildcard database/);
  t.match(reasonFor(result, '[databases] sluice'), /reserved/);
  t.match(reasonFor(result, '[databases] broken'), /syntax error at \/etc\/pgbouncer\/pgbouncer.ini:7/);
  t.match(reasonFor(result, '[users] bob: pool_mode'), /statement mode/);
  t.match(reasonFor(result, '[users] bob: query_timeout'), /^planned/);
  t.match(reasonFor(result, '[peers] 1'), /peering/);
  t.same(Object.keys(result.config.databases as object), ['app', 'sock']);
  t.same(result.config.users, { bob: { pool_mode: 'transaction', pool_size: 3 } });
  t.ok(validate(result.config));
});

t.test('hba and the TCP settings carry over', async (t) => {
  const result = importText(
    [
      '[databases]',
      'app = host=h',
      '[pgbouncer]',
      'auth_type = hba',
      'auth_hba_file = hba.conf',
      'tcp_keepalive = 0',
      'tcp_keepidle = 60',
      'tcp_keepintvl = 0x0a',
      'tcp_keepcnt = 500',
      'tcp_user_timeout = 30000',
      'unix_socket_dir = /var/run/pgbouncer',
      'unix_socket_mode = 0770',
      'unix_socket_group = postgres',
    ].join('\n'),
  );
  t.same(
    result.unsupported.map((i) => i.setting),
    ['auth_file'],
    'only the userlist it was not given',
  );
  t.match(result.config, {
    auth_type: 'hba',
    auth_hba_file: '/etc/pgbouncer/hba.conf',
    tcp_keepalive: false,
    tcp_keepidle: 60,
    tcp_keepintvl: 10,
    tcp_keepcnt: 127,
    tcp_user_timeout: 30000,
    unix_socket_dir: '/var/run/pgbouncer',
    unix_socket_mode: '0770',
    unix_socket_group: 'postgres',
  });
  t.match(result.notes.find((n) => n.setting === 'tcp_keepcnt')?.reason, /outside Sluice's range 0-127/);
  const parsed = parseConfig(result.config, {
    baseDir: '/etc/sluice',
    readFile: (path) => (path.endsWith('hba.conf') ? 'host all all all md5\n' : USERLIST),
    fileExists: () => true,
  });
  t.same(parsed.tcp, { keepalive: false, keepidle: 60, keepintvl: 10, keepcnt: 127, user_timeout: 30000 });
  t.equal(parsed.hba?.rules.length, 1);
  t.same(parsed.unix_socket, { dir: '/var/run/pgbouncer', mode: 0o770, group: 'postgres' });
});

t.test('tenants: one per user, max_user_connections as the limit', async (t) => {
  const result = importText(
    [
      '[databases]',
      'app = host=h',
      '[users]',
      'bob = max_user_connections=5 max_user_client_connections=50',
      'carol = pool_size=2',
      '[pgbouncer]',
      'max_user_connections = 10',
      'max_user_client_connections = 0',
    ].join('\n'),
    { userlist: { path: 'userlist.txt', text: USERLIST } },
  );
  t.same(result.config.tenants, {
    default: { limit: 10 },
    alice: { limit: 10 },
    bob: { limit: 5, max_clients: 50 },
    admin: { limit: 10 },
    carol: { limit: 10 },
  });
  t.equal(result.config.auth_file, '/etc/pgbouncer/userlist.txt', 'the userlist given becomes auth_file');
  const snapshot = validate(result.config);
  t.equal(snapshot.scheduler.tenants.get('bob')?.limit, 5);
  t.equal(snapshot.scheduler.default_tenant.limit, 10);
  const none = importText('[databases]\napp = host=h\n');
  t.equal(none.config.tenants, undefined, 'no users, no tenants');
  t.match(reasonFor(none, 'auth_file'), /needs a userlist/, 'md5 without a userlist cannot work in Sluice yet');
  const bad = importText('[databases]\napp = host=h\n', { userlist: { path: '/u.txt', text: '"alice" "SCRAM-SHA-256$x"\n' } });
  t.match(reasonFor(bad, 'userlist'), /cannot read \/u.txt/);
});

t.test('the YAML writer lists what did not carry over and quotes what must be strings', async (t) => {
  const result = importText('[databases]\n007 = host=10.0.0.1 password=0123\n[pgbouncer]\nsyslog = 1\nauth_type = trust\n');
  const yaml = importToYaml(result, { source: 'pgbouncer.ini' });
  t.match(yaml, /#\s+syslog: not supported: Sluice writes JSON log lines/);
  const back = parseYaml(yaml) as { databases: Record<string, { password: unknown }> };
  t.equal(back.databases['007']?.password, '0123', 'a numeric-looking password stays a string');
  t.ok(validate(back));
});
