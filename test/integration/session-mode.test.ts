// Proves session mode: a client owns one backend for its whole session, and server_reset_query cleans it before the next client gets it.
import t, { type Test } from 'tap';
import pgLib from 'pg';
import { startTestPostgres, APP_DB } from '../helpers/postgres.js';
import { startSluice, type TestSluice } from '../helpers/sluice.js';
import { WireClient, copyData, queryMsg, rowsOf } from '../helpers/wire.js';

const pg = await startTestPostgres(t);
await pg.query('create table sm_items (id int primary key)');
await pg.query('grant all on sm_items to alice');
await pg.query('drop role if exists sm_role');
await pg.query('create role sm_role');
await pg.query('grant sm_role to alice');
const [{ tz: DEFAULT_TZ }] = await pg.query(`select current_setting('TimeZone') as tz`);

async function client(t: Test, sluice: TestSluice): Promise<pgLib.Client> {
  const c = new pgLib.Client(sluice.options('alice'));
  await c.connect();
  t.teardown(() => c.end().catch(() => undefined));
  return c;
}

async function pid(c: pgLib.Client): Promise<number> {
  return (await c.query('select pg_backend_pid() as pid')).rows[0].pid;
}

async function until(cond: () => boolean, what: string, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** Clients queued for a server connection, as their sessions report it. */
function waiting(sluice: TestSluice): number {
  return [...sluice.pooler.sessions.values()].filter((s) => s.state === 'waiting').length;
}

/** Leaves every kind of session state DISCARD ALL is meant to clear (a temp table only when asked: its backend is then closed). */
async function dirty(c: pgLib.Client, temp: boolean): Promise<void> {
  if (temp) {
    await c.query('create temp table sm_tmp (x int)');
    await c.query('insert into sm_tmp values (1)');
  }
  await c.query('prepare sm_stmt as select 1');
  await c.query(`set statement_timeout = '7s'`);
  await c.query('select pg_advisory_lock(4242)');
  await c.query('listen sm_channel');
  await c.query('set role sm_role');
}

const LEFTOVERS_SQL = `select to_regclass('pg_temp.sm_tmp') is not null as temp_table,
  (select count(*)::int from pg_prepared_statements) as prepared,
  current_setting('statement_timeout') as statement_timeout,
  (select count(*)::int from pg_locks where locktype = 'advisory' and pid = pg_backend_pid()) as advisory_locks,
  (select count(*)::int from pg_listening_channels()) as listening, current_user as role,
  pg_backend_pid() as pid`;

/** The first client dirties the only backend and leaves; the second, queued meanwhile, gets that backend. */
async function handOver(t: Test, sluice: TestSluice, temp: boolean) {
  const first = await client(t, sluice);
  const firstPid = await pid(first);
  await dirty(first, temp);
  const second = await client(t, sluice);
  const seen = second.query(LEFTOVERS_SQL);
  await until(() => waiting(sluice) === 1, 'the second client to queue');
  t.equal(firstPid, await pid(first), 'the first client still owns the backend while the second waits');
  await first.end();
  const row = (await seen).rows[0];
  return { row, firstPid };
}

t.test('a client keeps its own backend, and its session state, across transactions', async (t) => {
  const sluice = await startSluice(t, pg, { pool_mode: 'session', default_pool_size: 2 });
  const a = await client(t, sluice);
  const b = await client(t, sluice);
  const pa = await pid(a);
  const pb = await pid(b);
  t.not(pa, pb, 'two clients, two backends');
  await a.query(`set statement_timeout = '3s'`);
  await a.query('create temp table sm_own (x int)');
  for (let i = 0; i < 5; i++) {
    await a.query('begin');
    await a.query('insert into sm_own values ($1)', [i]);
    await a.query('commit');
    await b.query('select 1');
    t.equal(await pid(a), pa, `a: same backend after transaction ${i}`);
    t.equal(await pid(b), pb, `b: same backend after transaction ${i}`);
  }
  t.same((await a.query('select count(*)::int as n, current_setting($1) as st from sm_own', ['statement_timeout'])).rows, [
    { n: 5, st: '3s' },
  ]);
});

t.test('after a client leaves, DISCARD ALL runs: the next client on that backend sees none of its state', async (t) => {
  const sluice = await startSluice(t, pg, { pool_mode: 'session', default_pool_size: 1 });
  const { row, firstPid } = await handOver(t, sluice, false);
  t.equal(row.pid, firstPid, 'the second client got the same backend');
  t.match(row, { prepared: 0, statement_timeout: '0', advisory_locks: 0, listening: 0, role: 'alice' });
});

t.test('a backend a client used temp tables on is closed after DISCARD ALL: its temp schema stays', async (t) => {
  const sluice = await startSluice(t, pg, { pool_mode: 'session', default_pool_size: 1 });
  const { row, firstPid } = await handOver(t, sluice, true);
  t.not(row.pid, firstPid, 'the second client got a new backend');
  t.match(row, { temp_table: false, prepared: 0, statement_timeout: '0', advisory_locks: 0, listening: 0 });
});

t.test('with server_reset_query "" the same hand-over keeps the state: the reset is what cleans', async (t) => {
  const sluice = await startSluice(t, pg, { pool_mode: 'session', default_pool_size: 1, server_reset_query: '' });
  const { row, firstPid } = await handOver(t, sluice, true);
  t.equal(row.pid, firstPid, 'the second client got the same backend');
  t.match(row, { temp_table: true, prepared: 1, statement_timeout: '7s', advisory_locks: 1, listening: 1, role: 'sm_role' });
});

t.test('a client that leaves inside a transaction is rolled back and the backend is reused', async (t) => {
  const sluice = await startSluice(t, pg, { pool_mode: 'session', default_pool_size: 1 });
  const first = await client(t, sluice);
  const firstPid = await pid(first);
  await first.query('begin');
  await first.query('insert into sm_items values (1)');
  await first.query(`set statement_timeout = '9s'`);
  await first.end();
  const second = await client(t, sluice);
  const r = await second.query(`select pg_backend_pid() as pid, current_setting('statement_timeout') as st,
    (select count(*)::int from sm_items) as n`);
  t.same(r.rows, [{ pid: firstPid, st: '0', n: 0 }], 'uncommitted insert gone, SET undone, same backend');
  await second.query('insert into sm_items values (2)');
  t.same(
    (await pg.query('select id from sm_items')).map((x) => x.id),
    [2],
    'the backend works normally afterwards',
  );
});

const STARTUP_SQL = `select current_setting('application_name') as app, current_setting('client_encoding') as enc,
  current_setting('TimeZone') as tz, current_setting('extra_float_digits') as efd, pg_backend_pid() as pid`;

/** A raw client with startup parameters, reading STARTUP_SQL's single row in LATIN1-safe form. */
async function startupSettings(t: Test, sluice: TestSluice, params: Record<string, string>) {
  const c = await WireClient.connect({ ...sluice.options('alice'), params });
  c.send(queryMsg(STARTUP_SQL));
  const [row] = rowsOf(await c.untilReady(), 'latin1');
  await c.close();
  await until(() => waiting(sluice) === 0 && sluice.pooler.pools.get(`${APP_DB}\0alice`)?.used.size === 0, 'the reset');
  const [app, enc, tz, efd, backend] = row;
  t.ok(backend, 'got a row');
  return { app, enc, tz, efd, pid: Number(backend) };
}

t.test('startup-packet parameters are applied in session mode, and reset for the next client', async (t) => {
  const sluice = await startSluice(t, pg, { pool_mode: 'session', default_pool_size: 1 });
  const wants = { application_name: 'alpha', client_encoding: 'LATIN1', TimeZone: 'America/New_York', extra_float_digits: '3' };
  const first = await startupSettings(t, sluice, wants);
  t.match(first, { app: 'alpha', enc: 'LATIN1', tz: 'America/New_York', efd: '3' }, 'the first client gets what it asked for');
  // DISCARD ALL reset even extra_float_digits, which the server never reports: it must be applied again.
  const same = await startupSettings(t, sluice, wants);
  t.match(same, { app: 'alpha', enc: 'LATIN1', tz: 'America/New_York', efd: '3', pid: first.pid }, 'the next, same backend, too');
  const plain = await startupSettings(t, sluice, {});
  t.match(plain, { app: '', enc: 'UTF8', tz: DEFAULT_TZ, efd: '1', pid: first.pid }, 'a client without them gets the defaults');
});

/** The first client runs its SQL and leaves; the second then gets the pool's only server connection. */
async function afterClient(t: Test, sluice: TestSluice, sql: string, then: string) {
  const first = await client(t, sluice);
  const firstPid = await pid(first);
  await first.query(sql);
  await first.end();
  const second = await client(t, sluice);
  const row = (await second.query(then)).rows[0];
  return { firstPid, row };
}

t.test("a client's setseed does not decide the next client's random(): DISCARD ALL keeps the seed", async (t) => {
  const sluice = await startSluice(t, pg, { pool_mode: 'session', default_pool_size: 1 });
  const [{ r: predicted }] = await pg.query('with s as materialized (select setseed(0.25)) select random() as r from s');
  const { firstPid, row } = await afterClient(t, sluice, 'select setseed(0.25)', 'select random() as r, pg_backend_pid() as pid');
  t.equal(row.pid, firstPid, 'the same backend');
  t.not(row.r, predicted, 'random() is not what the first client could predict');
});

t.test('a backend a client loaded a library into is closed, not handed on: LOAD cannot be undone', async (t) => {
  await pg.query(`create or replace function sm_load() returns void language plpgsql security definer
    as $$ begin execute 'load ''auto_explain'''; end $$`);
  await pg.query('grant execute on function sm_load() to alice');
  const sluice = await startSluice(t, pg, { pool_mode: 'session', default_pool_size: 1 });
  const loaded = `select (select count(*)::int from pg_settings where name like 'auto_explain.%') as n, pg_backend_pid() as pid`;
  const { firstPid, row } = await afterClient(t, sluice, 'select sm_load()', loaded);
  t.not(row.pid, firstPid, 'a new backend');
  t.equal(row.n, 0, 'without the library');
});

t.test('a backend that only ran PL/pgSQL is handed on: the language is not a library a client chose to load', async (t) => {
  const sluice = await startSluice(t, pg, { pool_mode: 'session', default_pool_size: 1 });
  const { firstPid, row } = await afterClient(t, sluice, 'do $$ begin perform 1; end $$', 'select pg_backend_pid() as pid');
  t.equal(row.pid, firstPid, 'the same backend');
});

t.test('a client that leaves inside COPY FROM STDIN or a failed transaction leaves the next client a usable backend', async (t) => {
  const sluice = await startSluice(t, pg, { pool_mode: 'session', default_pool_size: 1 });
  const copying = await WireClient.connect(sluice.options('alice'));
  copying.send(queryMsg('copy sm_items from stdin'));
  t.equal((await copying.next()).type, 'G', 'the server waits for COPY data');
  copying.send(copyData('41\n'));
  await copying.close();
  const failed = await client(t, sluice);
  await failed.query('begin');
  await failed.query('select 1/0').catch(() => undefined);
  await t.rejects(failed.query('select 1'), { code: '25P02' }, 'the transaction is failed');
  await failed.end();
  const next = await client(t, sluice);
  const r = await next.query(
    `select (select count(*)::int from sm_items where id = 41) as copied, now() = statement_timestamp() as own_transaction`,
  );
  t.same(r.rows, [{ copied: 0, own_transaction: true }], 'no half COPY, no failed transaction: a statement in its own transaction');
});
