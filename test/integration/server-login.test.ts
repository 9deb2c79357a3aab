// Proves Sluice logs in to Postgres by SCRAM, md5, trust and cleartext, and reports a refused server login at once and clearly.
import pg from 'pg';
import t from 'tap';
import { startTestPostgres } from '../helpers/postgres.js';
import { startSluice, testUsers, type TestSluice } from '../helpers/sluice.js';

interface Login {
  user: string;
  password: string;
  database?: string;
}

async function connect(sluice: TestSluice, l: Login): Promise<pg.Client> {
  const client = new pg.Client({ ...sluice.options(), user: l.user, password: l.password, database: l.database ?? 'app' });
  client.on('error', () => undefined);
  await client.connect();
  return client;
}

async function oneRow(sluice: TestSluice, l: Login, sql: string): Promise<Record<string, unknown>> {
  const client = await connect(sluice, l);
  try {
    return (await client.query(sql)).rows[0];
  } finally {
    await client.end();
  }
}

async function loginError(sluice: TestSluice, l: Login): Promise<{ code?: string; message: string; severity?: string }> {
  try {
    await (await connect(sluice, l)).end();
  } catch (err) {
    return err as { code?: string; message: string; severity?: string };
  }
  throw new Error(`login as ${l.user} unexpectedly succeeded`);
}

async function waitFor(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 5000): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!(await check())) {
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const pgServer = await startTestPostgres(t);
const major = Number(pgServer.version.split('.')[0]);

t.test('each server auth method works through Sluice', async (t) => {
  // trusty has no password at Postgres; the one Sluice checks clients with is never sent there.
  const sluice = await startSluice(t, pgServer, { users: { ...testUsers(), trusty: { password: 'trusty-at-sluice' } } });
  const cases = [
    { user: 'alice', password: 'alice-secret', method: 'scram-sha-256' },
    { user: 'bob', password: 'bob-secret', method: 'md5' },
    { user: 'plainuser', password: 'plain-secret', method: 'password' },
    { user: 'trusty', password: 'trusty-at-sluice', method: null },
  ];
  for (const c of cases) {
    // system_user (Postgres 16+) is "<auth method>:<identity>" of the server login, NULL for trust.
    const sql = major >= 16 ? 'select current_user as who, system_user as how' : 'select current_user as who';
    const row = await oneRow(sluice, c, sql);
    t.equal(row.who, c.user, `${c.user} reaches Postgres`);
    if (major >= 16) t.equal(row.how, c.method && `${c.method}:${c.user}`, `${c.user} logged in to Postgres by ${c.method ?? 'trust'}`);
  }
});

t.test('a forced server user logs in with the database-level password', async (t) => {
  const sluice = await startSluice(t, pgServer, {
    databases: {
      app: { host: pgServer.host, port: pgServer.port, dbname: 'app' },
      as_alice: { host: pgServer.host, port: pgServer.port, dbname: 'app', user: 'alice', password: 'alice-secret' },
    },
  });
  const row = await oneRow(sluice, { user: 'bob', password: 'bob-secret', database: 'as_alice' }, 'select current_user as who');
  t.equal(row.who, 'alice', 'bob works as alice on as_alice');
  t.ok(sluice.pooler.pools.has('as_alice\0alice'), 'the pool is keyed by the forced user');
});

t.test('a wrong forced server password fails the client login at once, naming pool and reason', async (t) => {
  const sluice = await startSluice(t, pgServer, {
    query_wait_timeout: 10,
    databases: {
      app: { host: pgServer.host, port: pgServer.port, dbname: 'app' },
      wrongpw: { host: pgServer.host, port: pgServer.port, dbname: 'app', user: 'alice', password: 'not-alice-secret' },
      wrongmd5: { host: pgServer.host, port: pgServer.port, dbname: 'app', user: 'bob', password: 'not-bob-secret' },
    },
  });
  for (const [db, user] of [
    ['wrongpw', 'alice'],
    ['wrongmd5', 'bob'],
  ]) {
    const started = performance.now();
    const err = await loginError(sluice, { user: 'carol', password: 'carol-secret', database: db });
    t.equal(err.code, '08006', `${db}: SLUICE_SERVER_LOGIN_FAILED`);
    t.equal(err.severity, 'FATAL', 'during client login it is FATAL');
    t.equal(err.message, `could not log in to the server for ${db}/${user}: password authentication failed for user "${user}"`);
    t.ok(performance.now() - started < 5000, 'well before query_wait_timeout (10 s)');
  }
  const ok = await oneRow(sluice, { user: 'carol', password: 'carol-secret' }, 'select current_user as who');
  t.equal(ok.who, 'carol', 'other pools are unaffected');
});

t.test('no password for a server that asks for one is a clear error', async (t) => {
  // Under trust Sluice lets carol in, but has no secret to log in to Postgres with.
  const sluice = await startSluice(t, pgServer, { auth_type: 'trust', users: {} });
  const err = await loginError(sluice, { user: 'carol', password: '' });
  t.equal(err.code, '08006');
  t.equal(err.message, 'could not log in to the server for app/carol: server asked for a password and none is configured');
});

t.test('a server login refused after the pool is up is an ERROR for the waiting query, and the client recovers', async (t) => {
  await pgServer.query("set password_encryption = 'scram-sha-256'; create role rotator login password 'rotator-1'");
  t.teardown(() => pgServer.query('drop role if exists rotator'));
  const sluice = await startSluice(t, pgServer, {
    query_wait_timeout: 10,
    users: { ...testUsers(), rotator: { password: 'rotator-1' } },
  });
  const client = await connect(sluice, { user: 'rotator', password: 'rotator-1' });
  t.teardown(() => client.end());
  t.same((await client.query('select 1 as n')).rows, [{ n: 1 }]);

  // The server password changes under Sluice and its pooled connection goes away: the next login fails.
  await pgServer.query("alter role rotator password 'rotator-2'");
  await pgServer.query("select pg_terminate_backend(pid) from pg_stat_activity where usename = 'rotator'");
  const pool = sluice.pooler.pools.get('app\0rotator');
  await waitFor('the pooled connection to close', () => pool?.total === 0);

  const started = performance.now();
  const err = await client.query('select 2').then(
    () => null,
    (e: { code?: string; message: string; severity?: string }) => e,
  );
  t.ok(err, 'the query fails');
  t.equal(err?.code, '08006');
  t.equal(err?.severity, 'ERROR', 'an ERROR: the client connection stays');
  t.equal(err?.message, 'could not log in to the server for app/rotator: password authentication failed for user "rotator"');
  t.ok(performance.now() - started < 5000, 'well before query_wait_timeout (10 s)');

  await pgServer.query("alter role rotator password 'rotator-1'");
  t.same((await client.query('select 3 as n')).rows, [{ n: 3 }], 'the same client works once the server accepts again');
});
