// Proves the admin console answers every SHOW command with PgBouncer's columns through psql and pg, with live values, and refuses what it must.
import pg from 'pg';
import postgres from 'postgres';
import t from 'tap';
import { startTestPostgres } from '../helpers/postgres.js';
import { startSluice } from '../helpers/sluice.js';
import { consoleClient, eventually, PGBOUNCER_COLUMNS, psqlConsole } from '../helpers/console.js';

const pg1 = await startTestPostgres(t);
const sluice = await startSluice(t, pg1, {
  admin_users: ['alice'],
  stats_users: ['carol'],
  stats_period: 1,
  max_server_connections: 4,
  tenants: { alice: { weight: 3, reservation: 1 }, carol: { weight: 1, limit: 2 } },
  classes: { reports: { weight: 1, limit: 1, lane: 'long' } },
  class_rules: [{ application_name: '^reports', class: 'reports' }],
});

const app = async (user: 'alice' | 'carol' = 'alice', applicationName = 'test'): Promise<pg.Client> => {
  const c = new pg.Client({ ...sluice.options(user), application_name: applicationName });
  c.on('error', () => undefined);
  await c.connect();
  t.teardown(() => c.end().catch(() => undefined));
  return c;
};

const names = (r: pg.QueryResult) => r.fields.map((f) => f.name);
const startsWith = (cols: readonly string[], prefix: readonly string[]) => cols.slice(0, prefix.length).join(',') === prefix.join(',');

t.test('every PgBouncer SHOW command has its documented columns first, through psql and through pg', async (t) => {
  const admin = await consoleClient(t, sluice);
  for (const [what, expected] of Object.entries(PGBOUNCER_COLUMNS)) {
    const viaPsql = await psqlConsole(sluice, `SHOW ${what.toUpperCase()}`);
    t.equal(viaPsql.code, 0, `psql SHOW ${what}: ${viaPsql.err}`);
    t.ok(startsWith(viaPsql.columns, expected), `psql SHOW ${what}: ${viaPsql.columns.join(',')}`);
    const viaPg = await admin.query(`show ${what}`);
    t.ok(startsWith(names(viaPg), expected), `pg SHOW ${what}: ${names(viaPg).join(',')}`);
    t.equal(viaPg.command, 'SHOW');
  }
});

t.test('SHOW POOLS, CLIENTS and SERVERS follow a transaction in flight', async (t) => {
  const client = await app('alice', 'billing');
  await client.query('begin');
  const pid = (await client.query('select pg_backend_pid() as pid')).rows[0].pid as number;
  const admin = await consoleClient(t, sluice);

  const pool = (await admin.query('SHOW POOLS')).rows.find((r) => r.database === 'app' && r.user === 'alice');
  t.ok(pool, 'a row for app/alice');
  t.ok(pool.cl_active >= 1 && pool.sv_active >= 1, `one client and one server active: ${JSON.stringify(pool)}`);
  t.equal(pool.pool_mode, 'transaction');
  t.equal(pool.budget, 'app', 'max_server_connections makes the database the slot budget');

  const servers = (await admin.query('SHOW SERVERS')).rows;
  const server = servers.find((r) => r.remote_pid === pid);
  t.ok(server, `the backend ${pid} is listed`);
  t.equal(server.state, 'active');
  t.equal(server.database, 'app');

  const clients = (await admin.query('SHOW CLIENTS')).rows;
  const me = clients.find((r) => r.link === server.ptr);
  t.ok(me, 'the client row links to the server row');
  t.equal(server.link, me.ptr, 'and the server row back to the client');
  t.equal(me.application_name, 'billing');
  t.equal(me.state, 'active');
  t.equal(me.tenant, 'alice');
  t.ok(
    clients.some((r) => r.database === 'pgbouncer' && r.user === 'alice'),
    'the console connection itself is listed',
  );

  await client.query('commit');
  const after = (await admin.query('SHOW SERVERS')).rows.find((r) => r.remote_pid === pid);
  t.equal(after.state, 'idle', 'the server is idle once the transaction ends');
  t.equal(after.link, null);
});

t.test('SHOW STATS counts transactions, queries and bytes, and averages them per stats_period', async (t) => {
  const admin = await consoleClient(t, sluice);
  const before = (await admin.query('SHOW STATS')).rows.find((r) => r.database === 'app');
  const client = await app();
  for (let i = 0; i < 5; i++) await client.query('select $1::int as n', [i]);
  await client.query('begin');
  await client.query('select 1');
  await client.query('commit');
  const row = (await admin.query('SHOW STATS')).rows.find((r) => r.database === 'app');
  const delta = (k: string) => Number(row[k]) - Number(before[k]);
  t.ok(delta('total_xact_count') >= 6, `6 transactions: ${delta('total_xact_count')}`);
  t.ok(delta('total_query_count') >= 8, `8 round trips: ${delta('total_query_count')}`);
  t.ok(delta('total_server_assignment_count') >= 6);
  t.ok(delta('total_received') > 0 && delta('total_sent') > 0, 'bytes both ways');
  t.ok(delta('total_xact_time') > 0 && delta('total_query_time') > 0, 'time in transactions and queries');
  t.ok(delta('total_client_login_count') >= 1, 'the login');
  await eventually('the averages of a completed period', async () => {
    const r = (await admin.query('SHOW STATS')).rows.find((x) => x.database === 'app');
    return Number(r.avg_xact_count) > 0 || Number(r.avg_query_count) > 0;
  });
});

t.test('SHOW TENANTS and SHOW CLASSES report weights, limits, shares and waits', async (t) => {
  const alice = await app('alice');
  const carol = await app('carol', 'reports-nightly');
  await alice.query('select 1');
  await carol.query('select 1');
  const admin = await consoleClient(t, sluice);
  const tenants = await admin.query('SHOW TENANTS');
  t.same(names(tenants).slice(0, 12), [
    'budget',
    'tenant',
    'mode',
    'weight',
    'reservation',
    'limit',
    'held',
    'queued',
    'wait_p99_ms',
    'entitled_share',
    'received_share',
    'slot_seconds',
  ]);
  const a = tenants.rows.find((r) => r.budget === 'app' && r.tenant === 'alice');
  const c = tenants.rows.find((r) => r.budget === 'app' && r.tenant === 'carol');
  t.ok(a && c, 'both tenants are listed for the app budget');
  t.equal(a.weight, 3);
  t.equal(a.reservation, 1);
  t.equal(a.limit, null, 'no limit shows as NULL');
  t.equal(c.limit, 2);
  t.equal(a.mode, 'fair');
  t.type(a.wait_p99_ms, 'number', 'alice has dispatched, so has a wait p99');
  t.equal(a.rejected_timeout, '0');

  const classes = await admin.query('SHOW CLASSES');
  const reports = classes.rows.find((r) => r.tenant === 'carol' && r.class === 'reports');
  t.ok(reports, `carol's reports class: ${JSON.stringify(classes.rows)}`);
  t.equal(reports.limit, 1);
  t.equal(reports.lane, 'long');
  t.type(reports.wait_p99_ms, 'number');
});

t.test('SHOW DATABASES, USERS, LISTS, CONFIG and VERSION carry the configuration', async (t) => {
  const admin = await consoleClient(t, sluice);
  const db = (await admin.query('SHOW DATABASES')).rows.find((r) => r.name === 'app');
  t.equal(db.port, pg1.port);
  t.equal(db.database, 'app');
  t.equal(db.pool_size, 5);
  t.equal(db.max_connections, 4, 'max_server_connections');
  t.equal(db.paused, 0);
  const users = (await admin.query('SHOW USERS')).rows;
  t.equal(users.find((r) => r.name === 'alice').console, 'admin');
  t.equal(users.find((r) => r.name === 'carol').console, 'stats');
  const lists = new Map((await admin.query('SHOW LISTS')).rows.map((r) => [r.list, r.items]));
  t.equal(lists.get('databases'), 1);
  t.ok(lists.get('used_clients') >= 1);
  const config = new Map((await admin.query('SHOW CONFIG')).rows.map((r) => [r.key, r]));
  t.equal(config.get('default_pool_size').value, '5');
  t.equal(config.get('default_pool_size').default, '20');
  t.equal(config.get('query_wait_timeout').value, '30', 'durations in seconds, as in the YAML');
  t.equal(config.get('listen_port').changeable, 'no');
  t.equal(config.get('stats_period').value, '1');
  t.equal(config.get('shutdown_timeout').default, '20');
  t.match((await admin.query('SHOW VERSION')).rows[0].version, /^Sluice \d+\.\d+\.\d+/);
});

t.test('postgres.js reads the console over the simple protocol', async (t) => {
  const o = sluice.options('alice', 'pgbouncer');
  const sql = postgres({ ...o, username: o.user, fetch_types: false, max: 1 });
  t.teardown(() => sql.end());
  const pools = await sql.unsafe('SHOW POOLS').simple();
  t.ok(
    startsWith(
      pools.columns.map((c) => c.name),
      PGBOUNCER_COLUMNS.pools,
    ),
    "PgBouncer's SHOW POOLS columns",
  );
  t.match((await sql.unsafe('SHOW VERSION').simple())[0]?.version, /^Sluice/);
});

t.test('SHOW HELP is a NOTICE listing the commands', async (t) => {
  const admin = await consoleClient(t, sluice);
  const notices: Array<{ message?: string; detail?: string }> = [];
  admin.on('notice', (n) => notices.push(n));
  const r = await admin.query('SHOW HELP');
  t.equal(r.command, 'SHOW');
  t.equal(notices[0]?.message, 'Console usage');
  for (const cmd of ['SHOW HELP|POOLS', 'TENANTS', 'CLASSES', 'PAUSE', 'RESUME', 'KILL_CLIENT', 'RELOAD', 'SHUTDOWN', 'WAIT_CLOSE']) {
    t.match(notices[0]?.detail, cmd);
  }
  const viaPsql = await psqlConsole(sluice, 'SHOW HELP');
  t.equal(viaPsql.code, 0);
  t.match(viaPsql.err, /NOTICE:\s+Console usage/);
});

t.test('several statements in one query run in order', async (t) => {
  const admin = await consoleClient(t, sluice);
  const rs = (await admin.query('SHOW VERSION; SHOW LISTS;')) as unknown as pg.QueryResult[];
  t.equal(rs.length, 2);
  t.same(names(rs[0]!), ['version']);
  t.same(names(rs[1]!), ['list', 'items']);
});

t.test('unknown commands get 42601 and the console stays usable', async (t) => {
  const admin = await consoleClient(t, sluice);
  await t.rejects(admin.query('SHOW NOTHING'), { code: '42601', message: /invalid admin console command "SHOW NOTHING", use SHOW HELP/ });
  await t.rejects(admin.query('select 1'), { code: '42601' });
  await t.rejects(admin.query('PAUSE a b c'), { code: '42601' }, 'wrong number of arguments');
  t.equal((await admin.query('SHOW VERSION')).rows.length, 1);
  const viaPsql = await psqlConsole(sluice, 'FROBNICATE');
  t.not(viaPsql.code, 0);
  t.match(viaPsql.err, /invalid admin console command "FROBNICATE"/);
});

t.test('the extended protocol gets 0A000, and the connection recovers at Sync', async (t) => {
  const admin = await consoleClient(t, sluice);
  await t.rejects(admin.query('SHOW POOLS', ['x']), { code: '0A000', message: /simple query protocol/ });
  t.ok((await admin.query('SHOW POOLS')).rows.length >= 0, 'the next simple query works');
});

t.test('users outside admin_users and stats_users are refused at login', async (t) => {
  const c = new pg.Client(sluice.options('bob', 'pgbouncer'));
  c.on('error', () => undefined);
  await t.rejects(c.connect(), { code: '42501', message: /user "bob" may not use the admin console/ });
  const viaPsql = await psqlConsole(sluice, 'SHOW POOLS', 'bob');
  t.not(viaPsql.code, 0);
  t.match(viaPsql.err, /42501|may not use the admin console/);
});

t.test('the alias database `sluice` reaches the same console', async (t) => {
  const c = await consoleClient(t, sluice, 'alice', 'sluice');
  t.match((await c.query('SHOW VERSION')).rows[0].version, /^Sluice/);
});

t.test('stats users may SHOW but not control', async (t) => {
  const stats = await consoleClient(t, sluice, 'carol');
  t.ok((await stats.query('SHOW POOLS')).rows.length >= 1);
  for (const cmd of ['PAUSE', 'RESUME', 'RELOAD', 'KILL app', 'KILL_CLIENT 1', 'SHUTDOWN', 'WAIT_CLOSE']) {
    await t.rejects(stats.query(cmd), { code: '42501', message: /needs a user in admin_users; "carol" is a stats user/ }, cmd);
  }
  t.equal(sluice.pooler.scheduler.isPaused('app'), false, 'nothing was paused');
});
