// Tests for the config schema: defaults, units, error messages, cross-setting checks, secrecy and freezing.
import t from 'tap';
import { readFileSync } from 'node:fs';
import { inspect } from 'node:util';
import { ConfigError, DEFAULTS, parseConfig, type ParseOptions } from '../../../lib/config/schema.js';

const BASE = '/etc/sluice';
const DISTINCTIVE = 'Zebra-Quokka-7731';
const TRUST_APP = { auth_type: 'trust', databases: { app: { host: '127.0.0.1' } } };

function parse(raw: unknown, opts: Partial<ParseOptions> = {}) {
  return parseConfig(raw, { baseDir: BASE, readFile: () => '', fileExists: () => true, ...opts });
}

function problemsOf(raw: unknown, opts: Partial<ParseOptions> = {}): string[] {
  try {
    parse(raw, opts);
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  throw new Error('expected the config to be refused');
}

t.test('a minimal config gets every default', async (t) => {
  const config = parse({ databases: { app: { host: '127.0.0.1' } }, users: { alice: { password: 'pw' } } });
  for (const [key, value] of Object.entries(DEFAULTS)) {
    t.same((config as unknown as Record<string, unknown>)[key], value, key);
  }
  t.equal(config.auth_type, 'scram-sha-256');
  t.equal(config.auth_file, undefined);
  t.equal(config.client_tls, undefined);
  t.same([...config.users.values()], [{ name: 'alice' }]);
  t.same(config.databases.get('app'), { name: 'app', host: '127.0.0.1', port: 5432, dbname: 'app' });
});

t.test('durations are seconds in YAML and milliseconds in the snapshot', async (t) => {
  const config = parse({
    ...TRUST_APP,
    server_idle_timeout: 1.5,
    server_lifetime: 0,
    server_connect_timeout: 0.0001,
    query_wait_timeout: 30,
    client_idle_timeout: 2147483,
  });
  t.equal(config.server_idle_timeout, 1500);
  t.equal(config.server_lifetime, 0, '0 stays 0 (disabled)');
  t.equal(config.server_connect_timeout, 1, 'a tiny positive value does not round down to "disabled"');
  t.equal(config.query_wait_timeout, 30_000);
  t.equal(config.client_idle_timeout, 2_147_483_000);
  t.equal(config.client_login_timeout, 60_000, 'default');
});

t.test('every setting given explicitly is carried into the snapshot', async (t) => {
  const config = parse(
    {
      listen_addr: '0.0.0.0',
      listen_port: 0,
      auth_type: 'md5',
      auth_file: 'users.txt',
      admin_users: ['alice'],
      stats_users: ['alice'],
      pool_mode: 'session',
      default_pool_size: 5,
      min_pool_size: 1,
      max_client_conn: 10,
      server_reset_query: '',
      max_packet_size: 1024,
      max_prepared_statements: 0,
      server_tls: { sslmode: 'verify-full', ca_file: 'ca.pem' },
      databases: { app: { host: 'db', port: 6543, dbname: 'real', user: 'svc', pool_mode: 'transaction', pool_size: 3, min_pool_size: 2 } },
      users: { alice: { pool_mode: 'transaction', pool_size: 2 } },
    },
    { readFile: () => '"alice" "pw"' },
  );
  t.equal(config.listen_addr, '0.0.0.0');
  t.equal(config.listen_port, 0, 'port 0 asks the OS for a free port');
  t.equal(config.auth_file, '/etc/sluice/users.txt', 'resolved against baseDir');
  t.same(config.server_tls, { sslmode: 'verify-full', ca_file: '/etc/sluice/ca.pem' });
  t.equal(config.server_reset_query, '', 'an empty reset query is allowed');
  t.same(config.databases.get('app'), {
    name: 'app',
    host: 'db',
    port: 6543,
    dbname: 'real',
    user: 'svc',
    pool_mode: 'transaction',
    pool_size: 3,
    min_pool_size: 2,
  });
  t.same(config.users.get('alice'), { name: 'alice', pool_mode: 'transaction', pool_size: 2 });
  t.same([config.pool_mode, config.default_pool_size, config.min_pool_size, config.max_client_conn], ['session', 5, 1, 10]);
  t.equal(config.max_prepared_statements, 0, '0 turns named prepared statement support off');
});

t.test('the error messages of the examples, exactly', async (t) => {
  t.same(problemsOf({ ...TRUST_APP, databases: { app: { host: 'h', port: 'abc' } } }), [
    'databases.app.port: expected integer 1-65535, got "abc"',
  ]);
  t.same(problemsOf({ ...TRUST_APP, auth_type: 'sha1' }), ['auth_type: expected one of scram-sha-256, md5, plain, trust, hba, got "sha1"']);
  t.same(problemsOf({ ...TRUST_APP, lisen_port: 6432 }), ['lisen_port: unknown setting']);
  t.same(problemsOf({ ...TRUST_APP, databases: { app: { port: 5432 } } }), ['databases.app.host: required']);
});

t.test('messages for each kind of value', async (t) => {
  const cases: [Record<string, unknown>, string][] = [
    [{ listen_port: [1] }, 'listen_port: expected integer 0-65535, got a list'],
    [{ listen_port: 6432.5 }, 'listen_port: expected integer 0-65535, got 6432.5'],
    [{ default_pool_size: 0 }, 'default_pool_size: expected integer >= 1, got 0'],
    [{ max_packet_size: 100 }, 'max_packet_size: expected integer 1024-1073741823, got 100'],
    [{ max_prepared_statements: -1 }, 'max_prepared_statements: expected integer >= 0, got -1'],
    [{ query_wait_timeout: -1 }, 'query_wait_timeout: expected seconds 0-2147483, got -1'],
    [{ server_lifetime: '1h' }, 'server_lifetime: expected seconds 0-2147483, got "1h"'],
    [{ auth_plain_without_tls: 'yes' }, 'auth_plain_without_tls: expected true or false, got "yes"'],
    [{ pool_mode: 'statement' }, 'pool_mode: expected one of session, transaction, got "statement"'],
    [{ listen_addr: '' }, 'listen_addr: expected a non-empty string, got ""'],
    [{ listen_addr: null }, 'listen_addr: expected a non-empty string, got an empty value'],
    [{ admin_users: 'admin' }, 'admin_users: expected a list of user names, got "admin"'],
    [{ admin_users: ['ok', 7] }, 'admin_users[1]: expected a non-empty string, got 7'],
    [
      { server_tls: { sslmode: 'allow' } },
      'server_tls.sslmode: expected one of disable, prefer, require, verify-ca, verify-full, got "allow"',
    ],
    [{ client_tls: { cert_file: 'c.pem' } }, 'client_tls.key_file: required'],
    [{ databases: { app: 'db.example' } }, 'databases.app: expected a mapping, got "db.example"'],
    [{ databases: { app: { host: 'h', hots: 'h' } } }, 'databases.app.hots: unknown setting'],
    [{ databases: { 'my.db': { host: 'h', port: 0 } } }, 'databases."my.db".port: expected integer 1-65535, got 0'],
    [{ databases: {} }, 'databases: at least one database is required'],
    [{ databases: [] }, 'databases: expected a mapping of database names to settings, got a list'],
    [{ users: { bob: { pool_size: 'x' } } }, 'users.bob.pool_size: expected integer >= 1, got "x"'],
  ];
  for (const [patch, expected] of cases) {
    t.same(problemsOf({ ...TRUST_APP, ...patch }), [expected], expected);
  }
  t.same(problemsOf({ auth_type: 'trust' }), ['databases: required']);
  t.same(problemsOf(null), ['config: expected a mapping of settings, got an empty value']);
  t.same(problemsOf(['a']), ['config: expected a mapping of settings, got a list']);
});

t.test('a badly typed password is described by its type only, never its value', async (t) => {
  const problems = problemsOf({
    ...TRUST_APP,
    users: { alice: { password: 77311234 } },
    databases: { app: { host: 'h', password: false } },
  });
  t.same(problems, [
    'databases.app.password: expected a string (quote it in YAML), got a boolean',
    'users.alice.password: expected a string (quote it in YAML), got a number',
  ]);
  t.notMatch(problems.join('\n'), /77311234/);
});

t.test('all problems are reported at once, one line each', async (t) => {
  const err = t.throws(() =>
    parse({
      lisen_port: 1,
      auth_type: 'sha1',
      max_client_conn: 'many',
      databases: { app: { port: 99999 }, reports: { host: 'h', pool_mode: 'statement' } },
    }),
  ) as ConfigError;
  t.ok(err instanceof ConfigError);
  t.same([...err.problems].sort(), [
    'auth_type: expected one of scram-sha-256, md5, plain, trust, hba, got "sha1"',
    'databases.app.host: required',
    'databases.app.port: expected integer 1-65535, got 99999',
    'databases.reports.pool_mode: expected one of session, transaction, got "statement"',
    'lisen_port: unknown setting',
    'max_client_conn: expected integer >= 1, got "many"',
  ]);
  t.equal(err.message, err.problems.join('\n'));
});

t.test('sections reserved for later modules are accepted and ignored', async (t) => {
  const config = parse({
    ...TRUST_APP,
    admin: { enabled: true },
  });
  for (const key of ['admin']) {
    t.notOk(key in config, `${key} is not in the snapshot`);
  }
});

t.test('failed-login throttling: defaults, seconds in YAML, and a window is needed while it is on', async (t) => {
  const defaults = parse(TRUST_APP);
  t.same([defaults.auth_failure_limit, defaults.auth_failure_window, defaults.auth_failure_lockout], [50, 60_000, 30_000]);
  const set = parse({ ...TRUST_APP, auth_failure_limit: 5, auth_failure_window: 0.5, auth_failure_lockout: 120 });
  t.same([set.auth_failure_limit, set.auth_failure_window, set.auth_failure_lockout], [5, 500, 120_000]);
  t.same(problemsOf({ ...TRUST_APP, auth_failure_window: 0 }), [
    'auth_failure_window: expected seconds > 0 while auth_failure_limit is on (set auth_failure_limit: 0 to turn throttling off)',
  ]);
  t.equal(parse({ ...TRUST_APP, auth_failure_limit: 0, auth_failure_window: 0 }).auth_failure_limit, 0, 'off: any window will do');
  t.same(problemsOf({ ...TRUST_APP, auth_failure_limit: -1 }), ['auth_failure_limit: expected integer >= 0, got -1']);
});

t.test('shutdown_timeout and stats_period are seconds in YAML, milliseconds in the snapshot', async (t) => {
  const defaults = parse(TRUST_APP);
  t.equal(defaults.shutdown_timeout, 20_000);
  t.equal(defaults.stats_period, 60_000);
  const set = parse({ ...TRUST_APP, shutdown_timeout: 0, stats_period: 2 });
  t.equal(set.shutdown_timeout, 0, '0 waits without a limit');
  t.equal(set.stats_period, 2000);
  t.same(problemsOf({ ...TRUST_APP, stats_period: 0.5 }), ['stats_period: expected seconds >= 1, got 0.5']);
  t.same(problemsOf({ ...TRUST_APP, shutdown_timeout: -1 }), ['shutdown_timeout: expected seconds 0-2147483, got -1']);
});

t.test('the admin console names cannot be used as databases', async (t) => {
  const db = { host: 'h' };
  t.same(problemsOf({ ...TRUST_APP, databases: { app: db, pgbouncer: db, sluice: db } }), [
    'databases.pgbouncer: the name is reserved for the admin console',
    'databases.sluice: the name is reserved for the admin console',
  ]);
});

t.test('isolation: tenants, classes and rules become the scheduler snapshot', async (t) => {
  const c = parse({
    ...TRUST_APP,
    max_server_connections: 10,
    scheduler: { mode: 'shadow', headroom_min: 1, headroom_max: 2, long_threshold: 0.05 },
    tenant_key: 'application_name',
    tenant_pattern: '^tenant-(\\w+)',
    tenants: { default: { weight: 1, queue_timeout: 2 }, acme: { weight: 4, reservation: 2, limit: 6, rate: { per_second: 50 } } },
    classes: { analytics: { limit: 4, elastic: true, lane: 'long', queue_timeout: 30 } },
    class_rules: [{ application_name: '^metabase', class: 'analytics' }],
  });
  const s = c.scheduler;
  t.equal(s.mode, 'shadow');
  t.equal(s.long_threshold, 50, 'seconds become ms');
  t.equal(s.tenant_pattern?.exec('tenant-acme-web')?.[1], 'acme');
  t.equal(s.default_tenant.queue_timeout, 2000);
  t.equal(s.tenants.get('acme')?.weight, 4);
  t.equal(s.tenants.get('acme')?.limit, 6);
  t.equal(s.tenants.get('acme')?.max_queue, Infinity, 'unset caps are unlimited');
  t.same(s.tenants.get('acme')?.rate, { per_second: 50, burst: 1, mode: 'wait' });
  t.equal(s.classes.get('analytics')?.elastic, true);
  t.ok(s.class_rules[0].application_name?.test('metabase-42'));
  t.equal(c.max_server_connections, 10);
  t.equal(s.classes.get('long')?.lane, 'long', 'long_threshold brings a long-lane class for the learned lane');
  t.equal(s.classes.get('analytics')?.total_limit, Infinity, 'no total limit unless set');
  t.equal(s.early_reject, true, 'early reject is on by default');
});

t.test('isolation: class total_limit, early_reject, and an operator-defined long class', async (t) => {
  const s = parse({
    ...TRUST_APP,
    scheduler: { long_threshold: 0.2, early_reject: false },
    classes: { migration: { total_limit: 1 }, long: { weight: 0.5, limit: 3 } },
  }).scheduler;
  t.equal(s.classes.get('migration')?.total_limit, 1);
  t.equal(s.early_reject, false);
  t.same(
    { ...s.classes.get('long') },
    { weight: 0.5, limit: 3, queue_timeout: 0, elastic: false, lane: 'short', total_limit: Infinity },
    'a long class the operator wrote is kept as written',
  );
  t.same(problemsOf({ ...TRUST_APP, classes: { migration: { total_limit: -1 } } }), [
    'classes.migration.total_limit: expected a slot limit (an integer >= 0, or null for none), got -1',
  ]);
  t.notOk(parse({ ...TRUST_APP, scheduler: { long_threshold: 0 } }).scheduler.classes.has('long'), 'no learned lane, no long class');
});

t.test('isolation defaults (issue 16): the learned lane, an elastic long class, the adaptive limit, a fading headroom', async (t) => {
  const s = parse(TRUST_APP).scheduler;
  t.equal(s.long_threshold, 250, 'statements holding a slot over 0.25 s on average are learned as long');
  t.same(
    { ...s.classes.get('long') },
    { weight: 1, limit: Infinity, queue_timeout: 0, elastic: true, lane: 'long', total_limit: Infinity },
    'the learned long class is elastic',
  );
  t.equal(s.adaptive.enabled, true, 'the adaptive limit is on');
  t.equal(s.headroom_fade, 1000, 'the headroom is kept while short work queued in the last second');
  const off = parse({ ...TRUST_APP, scheduler: { long_elastic: false, adaptive_limit: false, headroom_fade: 0 } }).scheduler;
  t.equal(off.classes.get('long')?.elastic, false, 'long_elastic: false makes the learned class long-lane only');
  t.equal(off.adaptive.enabled, false);
  t.equal(off.headroom_fade, 0, 'headroom_fade: 0 keeps the headroom always');
});

t.test('isolation: reservations that exceed the budget are refused, naming the numbers', async (t) => {
  t.same(problemsOf({ ...TRUST_APP, max_server_connections: 10, tenants: { a: { reservation: 6 }, b: { reservation: 5 } } }), [
    "tenants: reservations add up to 11 slots, more than databases.app's budget of 10 minus headroom_min 1",
  ]);
  t.same(problemsOf({ ...TRUST_APP, tenants: { a: { reservation: 3, limit: 2 } } }), ['tenants.a.limit: 2 is below its reservation 3']);
  t.same(problemsOf({ ...TRUST_APP, class_rules: [{ user: 'x', class: 'nope' }] }), [
    'class_rules[0].class: "nope" is not defined in classes',
  ]);
  t.match(problemsOf({ ...TRUST_APP, tenant_pattern: '(' })[0], /^tenant_pattern: invalid regular expression/);
  t.same(problemsOf({ ...TRUST_APP, scheduler: { mode: 'lottery' } }), [
    'scheduler.mode: expected one of fair, fifo, shadow, got "lottery"',
  ]);
});

t.test('min_pool_size may not exceed the pool size it applies to', async (t) => {
  t.same(problemsOf({ ...TRUST_APP, min_pool_size: 30 }), ['min_pool_size: 30 exceeds default_pool_size 20']);
  t.same(problemsOf({ ...TRUST_APP, databases: { app: { host: 'h', pool_size: 5, min_pool_size: 8 } } }), [
    'databases.app.min_pool_size: 8 exceeds pool_size 5',
  ]);
  t.same(problemsOf({ ...TRUST_APP, databases: { app: { host: 'h', min_pool_size: 21 } } }), [
    'databases.app.min_pool_size: 21 exceeds default_pool_size 20',
  ]);
  t.same(problemsOf({ ...TRUST_APP, min_pool_size: 4, databases: { app: { host: 'h', pool_size: 3 } } }), [
    'databases.app.pool_size: 3 is below the top-level min_pool_size 4',
  ]);
  t.equal(
    parse({ ...TRUST_APP, min_pool_size: 4, databases: { app: { host: 'h', pool_size: 3, min_pool_size: 1 } } }).databases.get('app')
      ?.min_pool_size,
    1,
    'a database may lower its own minimum',
  );
});

t.test('plain auth needs TLS or an explicit opt-out', async (t) => {
  const plain = { ...TRUST_APP, auth_type: 'plain', users: { alice: { password: 'pw' } } };
  t.same(problemsOf(plain), [
    'auth_type: plain sends passwords in cleartext, and client_tls is not configured; ' +
      'configure client_tls, or set auth_plain_without_tls: true to accept cleartext passwords without TLS',
  ]);
  t.equal(parse({ ...plain, auth_plain_without_tls: true }).auth_plain_without_tls, true);
  const withTls = parse({ ...plain, client_tls: { cert_file: 'server.crt', key_file: 'server.key' } });
  t.same(withTls.client_tls, { cert_file: '/etc/sluice/server.crt', key_file: '/etc/sluice/server.key' });
});

t.test('password auth needs some source of passwords', async (t) => {
  t.same(problemsOf({ ...TRUST_APP, auth_type: 'scram-sha-256' }), [
    'auth_type: scram-sha-256 needs passwords to check, ' +
      'but there are none; set auth_file, or give users a password under users.<name>.password',
  ]);
  t.ok(parse({ ...TRUST_APP, auth_type: 'md5', users: { alice: { password: 'pw' } } }));
  t.ok(parse({ ...TRUST_APP, auth_type: 'md5', auth_file: 'empty.txt' }), 'an empty auth_file is a source');
});

t.test('admin and stats users must have a password unless auth is trust', async (t) => {
  const base = { ...TRUST_APP, auth_type: 'scram-sha-256', auth_file: 'u.txt', admin_users: ['alice', 'root'], stats_users: ['carol'] };
  t.same(problemsOf(base, { readFile: () => '"alice" "pw"' }), [
    'admin_users: "root" has no password in auth_file or users.root.password, so cannot log in',
    'stats_users: "carol" has no password in auth_file or users.carol.password, so cannot log in',
  ]);
  t.ok(parse({ ...base, users: { root: { password: 'r' }, carol: { password: 'c' } } }, { readFile: () => '"alice" "pw"' }));
  t.ok(parse({ ...TRUST_APP, admin_users: ['nobody'] }), 'trust needs no passwords');
});

t.test('auth_file is read relative to baseDir and merged with inline passwords, inline winning', async (t) => {
  const read: string[] = [];
  const config = parse(
    { ...TRUST_APP, auth_type: 'md5', auth_file: 'conf/userlist.txt', users: { bob: { password: 'inline-bob' } } },
    {
      readFile: (path) => {
        read.push(path);
        return '"alice" "md5aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"\n"bob" "file-bob"\n';
      },
    },
  );
  t.same(read, ['/etc/sluice/conf/userlist.txt']);
  const alice = config.secrets.get('alice');
  const bob = config.secrets.get('bob');
  t.equal(alice?.kind === 'md5' && alice.hash, 'md5aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa');
  t.equal(bob?.kind === 'plain' && bob.password, 'inline-bob');
});

t.test('auth_file problems name the file and the line', async (t) => {
  t.same(
    problemsOf({ ...TRUST_APP, auth_file: 'u.txt' }, { readFile: () => '"ok" "pw"\nbroken\n"x" "SCRAM-SHA-256$1:c2FsdA==$AA==:AA=="\n' }),
    [
      'auth_file: /etc/sluice/u.txt: line 2: expected a quoted user name: lines look like "user" "secret"',
      'auth_file: /etc/sluice/u.txt: line 3: malformed SCRAM-SHA-256 secret: StoredKey must be 32 bytes, got 1',
    ],
  );
  const missing = Object.assign(new Error('ENOENT: no such file'), { code: 'ENOENT' });
  t.same(
    problemsOf(
      { ...TRUST_APP, auth_type: 'md5', auth_file: 'u.txt', admin_users: ['x'] },
      {
        readFile: () => {
          throw missing;
        },
      },
    ),
    ['auth_file: /etc/sluice/u.txt: cannot read (ENOENT)'],
    'no "has no password" noise after an unreadable auth_file',
  );
  t.same(problemsOf({ ...TRUST_APP, users: { alice: { password: 'SCRAM-SHA-256$x:y$z:w' } } }), [
    'users.alice.password: malformed SCRAM-SHA-256 secret: iterations must be an integer 1-2147483647',
  ]);
});

t.test('TLS files are resolved against baseDir and must be readable', async (t) => {
  const present = new Set(['/etc/sluice/server.crt']);
  t.same(
    problemsOf(
      {
        ...TRUST_APP,
        client_tls: { cert_file: 'server.crt', key_file: 'server.key', ca_file: '/abs/ca.pem' },
        server_tls: { ca_file: 'backend-ca.pem' },
      },
      { fileExists: (path) => present.has(path) },
    ),
    [
      'client_tls.key_file: cannot read /etc/sluice/server.key',
      'client_tls.ca_file: cannot read /abs/ca.pem',
      'server_tls.ca_file: cannot read /etc/sluice/backend-ca.pem',
    ],
  );
});

t.test('secrets never show in JSON.stringify or util.inspect, yet stay readable', async (t) => {
  const md5 = `md5${'ab'.repeat(16)}`;
  const storedKey = Buffer.alloc(32, 7).toString('base64');
  const serverKey = Buffer.alloc(32, 9).toString('base64');
  const config = parse(
    {
      auth_type: 'md5',
      auth_file: 'u.txt',
      databases: { app: { host: 'h', user: 'svc', password: DISTINCTIVE } },
      users: { alice: { password: `${DISTINCTIVE}-alice` } },
    },
    { readFile: () => `"bob" "${md5}"\n"carol" "SCRAM-SHA-256$4096:c2FsdHNhbHQ=$${storedKey}:${serverKey}"\n` },
  );
  for (const shown of [JSON.stringify(config), inspect(config, { depth: 10 }), inspect(config.secrets, { depth: 10 })]) {
    t.notMatch(shown, DISTINCTIVE);
    t.notMatch(shown, md5);
    t.notMatch(shown, storedKey);
    t.notMatch(shown, serverKey);
  }
  t.equal(config.databases.get('app')?.password, DISTINCTIVE);
  const alice = config.secrets.get('alice');
  t.equal(alice?.kind === 'plain' && alice.password, `${DISTINCTIVE}-alice`);
  t.match(inspect(config.secrets), /'carol' => \{ kind: 'scram', iterations: 4096 \}/);
});

t.test('the snapshot is frozen, maps included', async (t) => {
  const config = parse(TRUST_APP);
  t.ok(Object.isFrozen(config));
  t.ok(Object.isFrozen(config.databases.get('app')));
  t.ok(Object.isFrozen(config.admin_users));
  t.ok(Object.isFrozen(config.server_tls));
  t.throws(() => {
    (config as { listen_port: number }).listen_port = 1;
  }, TypeError);
  const databases = config.databases as Map<string, unknown>;
  t.throws(() => databases.set('x', {}), { message: 'the configuration snapshot is read-only' });
  t.throws(() => databases.delete('app'), TypeError);
  t.throws(() => databases.clear(), TypeError);
  t.equal(config.databases.size, 1);
});

t.test('docs/configuration.md documents every setting with its default', async (t) => {
  const docs = readFileSync(new URL('../../../docs/configuration.md', import.meta.url), 'utf8');
  for (const [key, value] of Object.entries(DEFAULTS)) {
    if (key === 'server_tls' || Array.isArray(value)) {
      t.match(docs, `| \`${key === 'server_tls' ? 'sslmode' : key}\` |`, key);
      continue;
    }
    const seconds =
      key.endsWith('_timeout') || ['server_lifetime', 'stats_period', 'auth_failure_window', 'auth_failure_lockout'].includes(key);
    const shown = seconds ? (value as number) / 1000 : value;
    t.match(docs, `| \`${key}\` | \`${String(shown)}\` |`, `${key} and its default`);
  }
  for (const key of ['auth_file', 'client_tls', 'host', 'dbname', 'tenants', 'shutdown_timeout']) t.match(docs, `\`${key}\``, key);
});
