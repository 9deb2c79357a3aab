// Proves session_state pin and allow in transaction mode: each kind of session state pins its client until the state is gone or the client leaves, nothing leaks to the next client, and allow passes it through with a warning.
import t, { type Test } from 'tap';
import pgLib from 'pg';
import { startTestPostgres, APP_DB } from '../helpers/postgres.js';
import { startSluice, type TestSluice } from '../helpers/sluice.js';
import { captureLog } from '../helpers/log-capture.js';
import { WireClient, extendedQuery, statusesOf } from '../helpers/wire.js';

const pg = await startTestPostgres(t);
const [{ work_mem: DEFAULT_WORK_MEM }] = await pg.query(`select current_setting('work_mem') as work_mem`);
await pg.query('drop role if exists ss_role');
await pg.query('create role ss_role; grant ss_role to alice');

/** Everything a session can leave on its backend, seen from whoever runs on that backend next. */
const STATE_SQL = `select pg_backend_pid() as pid, current_user as who,
  current_setting('work_mem') as work_mem,
  coalesce(current_setting('app.tenant', true), '') as app_tenant,
  (select count(*)::int from pg_locks where locktype = 'advisory' and pid = pg_backend_pid()) as advisory,
  to_regclass('pg_temp.ss_tmp') is not null as temp_table,
  (select count(*)::int from pg_cursors where is_holdable) as cursors,
  (select count(*)::int from pg_prepared_statements where from_sql) as prepared,
  (select count(*)::int from pg_listening_channels()) as listening`;

type Row = Record<string, any>;
interface Case {
  name: string;
  make: string;
  release: string;
  dirty(row: Row): boolean;
}

const CASES: Case[] = [
  { name: 'SET ROLE', make: 'set role ss_role', release: 'reset role', dirty: (r) => r.who === 'ss_role' },
  {
    name: 'session advisory lock',
    make: 'select pg_advisory_lock(4242)',
    release: 'select pg_advisory_unlock_all()',
    dirty: (r) => r.advisory > 0,
  },
  { name: 'temp table', make: 'create temp table ss_tmp (x int)', release: 'drop table ss_tmp', dirty: (r) => r.temp_table },
  {
    name: 'DECLARE ... WITH HOLD',
    make: 'declare ss_cur cursor with hold for select 1',
    release: 'close ss_cur',
    dirty: (r) => r.cursors > 0,
  },
  { name: 'SQL PREPARE', make: 'prepare ss_stmt as select 1', release: 'deallocate ss_stmt', dirty: (r) => r.prepared > 0 },
];

async function client(t: Test, sluice: TestSluice): Promise<pgLib.Client> {
  const c = new pgLib.Client(sluice.options('alice'));
  await c.connect();
  t.teardown(() => c.end().catch(() => undefined));
  return c;
}

async function until(cond: () => boolean, what: string, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

const pool = (sluice: TestSluice) => sluice.pooler.pools.get(`${APP_DB}\0alice`)!;
const pinned = (sluice: TestSluice) => pool(sluice).pinned.size;
const waiting = (sluice: TestSluice) => [...sluice.pooler.sessions.values()].filter((s) => s.state === 'waiting').length;
const state = async (c: pgLib.Client): Promise<Row> => (await c.query(STATE_SQL)).rows[0];

for (const c of CASES) {
  t.test(`pin: ${c.name} pins the client until it is undone, and the next client sees none of it`, async (t) => {
    const sluice = await startSluice(t, pg, { default_pool_size: 1, session_state: 'pin' });
    const a = await client(t, sluice);
    const b = await client(t, sluice);
    await a.query(c.make);
    await until(() => pinned(sluice) === 1, 'the pin');
    const blocked = state(b);
    await until(() => waiting(sluice) === 1, 'b to queue behind the pinned connection');
    const mine = await state(a);
    t.ok(c.dirty(mine), 'a keeps its state across transactions');
    t.equal(pinned(sluice), 1, 'still pinned after another transaction');
    await a.query(c.release);
    const theirs = await blocked;
    // A backend that kept an (emptied) temp schema is closed rather than handed on: b gets a fresh one.
    if (c.name === 'temp table') t.not(theirs.pid, mine.pid, 'b runs on a fresh backend: the one a used kept its temp schema');
    else t.equal(theirs.pid, mine.pid, 'b runs on the very backend a used');
    t.notOk(c.dirty(theirs), 'and sees none of the state');
    t.equal(pinned(sluice), 0, 'a is unpinned');
  });
}

t.test('pin: a pinned client that leaves gets its backend reset; the next client sees nothing', async (t) => {
  const sluice = await startSluice(t, pg, { default_pool_size: 1, session_state: 'pin' });
  const a = await client(t, sluice);
  for (const c of CASES) await a.query(c.make);
  await until(() => pinned(sluice) === 1, 'the pin');
  const before = await state(a);
  t.ok(
    CASES.every((c) => c.dirty(before)),
    'a holds every kind of state',
  );
  const b = await client(t, sluice);
  const seen = state(b);
  await until(() => waiting(sluice) === 1, 'b to queue');
  await a.end();
  const after = await seen;
  // DISCARD ALL empties the temp schema but keeps it, so a fresh session's behaviour (PREPARE TRANSACTION after a
  // pg_temp lookup) would differ on that backend: it is closed rather than reused.
  t.not(after.pid, before.pid, 'the backend kept a temp schema: closed, not reused');
  for (const c of CASES) t.notOk(c.dirty(after), `no ${c.name} left`);
  t.equal(after.work_mem, DEFAULT_WORK_MEM);
  t.equal(pinned(sluice), 0);
});

t.test('pin: with server_reset_query "" a pinned backend is closed instead of reused', async (t) => {
  const sluice = await startSluice(t, pg, { default_pool_size: 1, session_state: 'pin', server_reset_query: '' });
  const a = await client(t, sluice);
  await a.query('set role ss_role');
  await until(() => pinned(sluice) === 1, 'the pin');
  const before = await state(a);
  await a.end();
  const b = await client(t, sluice);
  const after = await state(b);
  t.not(after.pid, before.pid, 'a fresh backend');
  t.equal(after.who, 'alice');
});

t.test('pin: a pinned client holds its slot, so it counts against the limits; others queue', async (t) => {
  const sluice = await startSluice(t, pg, { default_pool_size: 2, session_state: 'pin' });
  const a = await client(t, sluice);
  const b = await client(t, sluice);
  await a.query('select pg_advisory_lock(1)');
  await b.query('select pg_advisory_lock(2)');
  await until(() => pinned(sluice) === 2, 'both pinned');
  const c = await client(t, sluice);
  const q = c.query('select 1 as one');
  await until(() => waiting(sluice) === 1, 'c to queue: no slot is free');
  await b.query('select pg_advisory_unlock_all()');
  t.same((await q).rows, [{ one: 1 }], 'c runs once b is unpinned');
  t.equal(pinned(sluice), 1);
});

t.test('pin: a statement that fails leaves nothing, so nothing stays pinned', async (t) => {
  const sluice = await startSluice(t, pg, { default_pool_size: 1, session_state: 'pin' });
  const a = await client(t, sluice);
  await t.rejects(a.query('set no_such_setting = 1'), { code: '42704' });
  await a.query('begin');
  await a.query('create temp table ss_tmp (x int)');
  await a.query('rollback');
  await until(() => pool(sluice).idle.size === 1, 'the connection back in the pool');
  t.equal(pinned(sluice), 0, 'the server had no state to keep');
});

t.test('pin: LISTEN over the extended protocol does not pin; its channel moves to the notify hub', async (t) => {
  const sluice = await startSluice(t, pg, { default_pool_size: 1, session_state: 'pin' });
  const w = await WireClient.connect(sluice.options('alice'));
  t.teardown(() => w.close());
  w.send(extendedQuery('LISTEN ss_ext'));
  t.equal(statusesOf(await w.untilReady()), 'I');
  await until(() => pool(sluice).idle.size === 1, 'the connection back in the pool');
  t.equal(pinned(sluice), 0, 'nothing pinned');
  const b = await client(t, sluice);
  t.equal((await state(b)).listening, 0, 'the next client of that backend inherits no LISTEN');
  await pg.query(`notify ss_ext, 'hello'`);
  const m = await w.next();
  t.equal(m.type, 'A', 'NotificationResponse, from the hub');
  t.match(m.body.toString('utf8'), /ss_ext\0hello\0/);
  w.send(extendedQuery('UNLISTEN *'));
  await w.untilReady();
  await until(() => sluice.pooler.notifyHub.stats().length === 0, 'the hub to let go');
});

t.test('allow: state passes through to the shared backend, as in PgBouncer, with one warning per statement', async (t) => {
  const captured = captureLog('warn');
  const sluice = await startSluice(t, pg, { default_pool_size: 1, session_state: 'allow' }, { log: captured.log });
  const a = await client(t, sluice);
  const b = await client(t, sluice);
  const passing = CASES.filter((c) => c.name !== 'SET ROLE');
  for (const c of passing) await a.query(c.make);
  await a.query(passing[0].make);
  const leaked = await state(b);
  for (const c of passing) t.ok(c.dirty(leaked), `b sees a's ${c.name}: nothing was pinned or reset`);
  t.equal(pinned(sluice), 0);
  const warned = captured
    .lines()
    .filter((l) => /session_state: allow/.test(l.msg))
    .flatMap((l) => l.statements);
  t.same(
    warned,
    ['pg_advisory_lock()', 'CREATE TEMP TABLE ss_tmp', 'DECLARE ss_cur CURSOR WITH HOLD', 'PREPARE ss_stmt'],
    'each statement named once, the repeat not again',
  );
});

t.test(
  "allow: the state a client left ends when it leaves, as a direct session's does: its advisory lock no longer blocks others forever",
  async (t) => {
    const sluice = await startSluice(t, pg, { default_pool_size: 2, session_state: 'allow' });
    const a = await client(t, sluice);
    const b = await client(t, sluice);
    const [{ pid }] = (await a.query('select pg_backend_pid() as pid, pg_advisory_lock(4242)')).rows;
    // a holds its backend a moment, so b waits for the lock on the other backend.
    const aBusy = a.query('select pg_sleep(0.2)');
    await new Promise((resolve) => setTimeout(resolve, 20));
    const waiting = b.query('select pg_advisory_lock(4242)');
    await aBusy;
    await new Promise((resolve) => setTimeout(resolve, 100));
    await a.end();
    const outcome = await Promise.race([
      waiting.then(() => 'b got the lock'),
      new Promise((resolve) => setTimeout(() => resolve('b still waits'), 5000)),
    ]);
    t.equal(outcome, 'b got the lock', 'the backend that held it was closed once a left');
    const [{ alive }] = await pg.query(`select count(*)::int as alive from pg_stat_activity where pid = ${pid}`);
    t.equal(alive, 0, "a's backend is gone");
    await b.query('select pg_advisory_unlock_all()');
  },
);

t.test(
  'allow: SET ROLE cannot follow its client, so its backend is closed after the transaction and the next client never runs as that role',
  async (t) => {
    const captured = captureLog('warn');
    const sluice = await startSluice(t, pg, { default_pool_size: 1, session_state: 'allow' }, { log: captured.log });
    const a = await client(t, sluice);
    const b = await client(t, sluice);
    const [inside] = (
      (await a.query('set role ss_role; select current_user as who, pg_backend_pid() as pid')) as unknown as pgLib.QueryResult[]
    )[1].rows;
    t.equal(inside.who, 'ss_role', 'the SET ran, as PgBouncer would pass it');
    const after = await state(b);
    t.equal(after.who, 'alice', 'b runs as the login role');
    t.not(after.pid, inside.pid, 'on a fresh backend');
    const line = captured.lines().find((l) => /cannot follow its client/.test(l.msg));
    t.match(line, { statements: ['SET ROLE'], msg: /closed after the transaction.*session_state: allow/ }, 'the log line says why');
  },
);

t.test('pin and allow: settings follow their client and never pin, nor do SET LOCAL and transaction-scoped locks', async (t) => {
  const sluice = await startSluice(t, pg, { default_pool_size: 1, session_state: 'pin' });
  const a = await client(t, sluice);
  await a.query(`set work_mem = '7MB'`);
  await a.query(`select set_config('app.tenant', '42', false)`);
  await until(() => pool(sluice).idle.size === 1, 'the connection back in the pool');
  t.equal(pinned(sluice), 0);
  const b = await client(t, sluice);
  t.match(await state(b), { work_mem: DEFAULT_WORK_MEM, app_tenant: '' }, 'b on the same backend sees none of it');
  t.match(await state(a), { work_mem: '7MB', app_tenant: '42' }, 'a keeps its own');
});

t.test('pin: parameters, SET LOCAL and transaction-scoped locks never pin', async (t) => {
  const sluice = await startSluice(t, pg, { default_pool_size: 1, session_state: 'pin' });
  const a = await client(t, sluice);
  await a.query(`set search_path = public`);
  await a.query(`set timezone = 'UTC'`);
  await a.query('begin');
  await a.query(`set local work_mem = '9MB'`);
  await a.query('select pg_advisory_xact_lock(7)');
  await a.query('commit');
  await until(() => pool(sluice).idle.size === 1, 'the connection back in the pool');
  t.equal(pinned(sluice), 0);
});

t.test('pin: a named statement that leaves state pins again each time it runs, even without a new Parse', async (t) => {
  const sluice = await startSluice(t, pg, { default_pool_size: 1, session_state: 'pin' });
  const a = await client(t, sluice);
  const named = { name: 'ss_set', text: `select set_config('role', 'ss_role', false)` };
  await a.query(named);
  await until(() => pinned(sluice) === 1, 'the pin');
  await a.query('reset role');
  await until(() => pinned(sluice) === 0, 'the unpin');
  await a.query(named);
  await until(() => pinned(sluice) === 1, 'the pin on Bind alone');
  t.equal((await state(a)).who, 'ss_role');
  await a.query('reset role');
  await until(() => pinned(sluice) === 0, 'the unpin');
  t.pass('pinned and unpinned twice');
});
