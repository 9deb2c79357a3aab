// Proves session_state reject in transaction mode: each kind of session state is refused with 0A000 naming the statement, nothing of it runs, the session stays usable, and inside transactions and pipelines the server agrees with what the client is told.
import t, { type Test } from 'tap';
import pgLib from 'pg';
import { startTestPostgres, APP_DB } from '../helpers/postgres.js';
import { startSluice, testUsers, type TestSluice } from '../helpers/sluice.js';
import {
  WireClient,
  bind,
  commandTag,
  describePortal,
  errorFields,
  execute,
  extendedQuery,
  parse,
  queryMsg,
  statusesOf,
  syncMsg,
  typesOf,
} from '../helpers/wire.js';

const pg = await startTestPostgres(t);
await pg.query('drop table if exists sr_items; create table sr_items (id int); grant all on sr_items to alice');
await pg.query('drop role if exists sr_role; create role sr_role; grant sr_role to alice, bob');

const STATE_SQL = `select pg_backend_pid() as pid, current_user::text = 'sr_role' as in_role,
  (select count(*)::int from pg_locks where locktype = 'advisory' and pid = pg_backend_pid()) as advisory,
  to_regclass('pg_temp.sr_tmp') is not null as temp_table,
  (select count(*)::int from pg_cursors where is_holdable) as cursors,
  (select count(*)::int from pg_prepared_statements where from_sql) as prepared,
  (select count(*)::int from pg_listening_channels()) as listening`;
const [CLEAN] = await pg.query(STATE_SQL.replace('pg_backend_pid() as pid, ', ''));

const CASES = [
  { sql: 'set role sr_role', named: 'SET ROLE' },
  { sql: `select set_config('role', 'sr_role', false)`, named: "set_config('role', …, false)" },
  { sql: 'select pg_advisory_lock(11)', named: 'pg_advisory_lock()' },
  { sql: 'create temp table sr_tmp (x int)', named: 'CREATE TEMP TABLE sr_tmp' },
  { sql: 'declare sr_cur cursor with hold for select 1', named: 'DECLARE sr_cur CURSOR WITH HOLD' },
  { sql: 'prepare sr_stmt as select 1', named: 'PREPARE sr_stmt' },
];

async function client(t: Test, sluice: TestSluice, user: 'alice' | 'bob' = 'alice'): Promise<pgLib.Client> {
  const c = new pgLib.Client(sluice.options(user));
  await c.connect();
  t.teardown(() => c.end().catch(() => undefined));
  return c;
}

async function wire(t: Test, sluice: TestSluice): Promise<WireClient> {
  const w = await WireClient.connect(sluice.options('alice'));
  t.teardown(() => w.close());
  return w;
}

const noState = (row: Record<string, unknown>) => {
  const { pid: _pid, ...rest } = row;
  return rest;
};

const REJECTED = { code: '0A000', message: /session_state is "reject"/ };

t.test('each statement is refused, named in the message, and leaves nothing on the shared backend', async (t) => {
  const sluice = await startSluice(t, pg, { default_pool_size: 1, session_state: 'reject' });
  const a = await client(t, sluice);
  const b = await client(t, sluice);
  for (const c of CASES) {
    const err = await a.query(c.sql).then(
      () => null,
      (e: { code: string; message: string }) => e,
    );
    t.match(err, REJECTED, c.sql);
    t.ok(err?.message.startsWith(`${c.named} is not allowed here`), `the message names "${c.named}": ${err?.message}`);
    t.same((await a.query('select 1 as one')).rows, [{ one: 1 }], 'the session stays usable');
  }
  t.same(noState((await b.query(STATE_SQL)).rows[0]), CLEAN, 'another client on the same backend sees a clean session');
});

t.test('inside a transaction block the transaction is aborted on the server too, and savepoints recover it', async (t) => {
  const sluice = await startSluice(t, pg, { default_pool_size: 1, session_state: 'reject' });
  const a = await client(t, sluice);
  await a.query('begin');
  await a.query('insert into sr_items values (1)');
  await t.rejects(a.query('set role sr_role'), REJECTED);
  await t.rejects(a.query('select 1'), { code: '25P02' }, 'the server, too, knows the transaction failed');
  await a.query('commit');
  t.same(await pg.query('select * from sr_items'), [], 'COMMIT of the failed transaction rolled it back');
  await a.query('begin');
  await a.query('insert into sr_items values (2)');
  await a.query('savepoint s');
  await t.rejects(a.query('select pg_advisory_lock(3)'), REJECTED);
  await a.query('rollback to savepoint s');
  await a.query('insert into sr_items values (3)');
  await a.query('commit');
  t.same(
    (await pg.query('select id from sr_items order by id')).map((r) => r.id),
    [2, 3],
    'the work around the savepoint committed',
  );
  t.same(noState((await a.query(STATE_SQL)).rows[0]), CLEAN);
  await pg.query('delete from sr_items');
});

t.test('extended protocol: the Parse is refused and the batch skipped to Sync, inside a transaction too', async (t) => {
  const sluice = await startSluice(t, pg, { default_pool_size: 1, session_state: 'reject' });
  const a = await client(t, sluice);
  await t.rejects(a.query('select pg_advisory_lock($1)', [5]), REJECTED);
  t.same((await a.query('select $1::int as v', [7])).rows, [{ v: 7 }], 'usable afterwards');
  await a.query('begin');
  await t.rejects(a.query('select pg_try_advisory_lock($1)', [5]), REJECTED);
  await t.rejects(a.query('select 1'), { code: '25P02' });
  await a.query('rollback');
  t.same(noState((await a.query(STATE_SQL)).rows[0]), CLEAN);
});

t.test('pipelined behind other requests, the server fails it in order with the same transaction semantics', async (t) => {
  const sluice = await startSluice(t, pg, { default_pool_size: 1, session_state: 'reject' });
  const w = await wire(t, sluice);
  w.send(queryMsg('select pg_sleep(0.05)'), queryMsg('set role sr_role'), queryMsg('select 2'));
  const replies = await w.untilReady(3);
  t.equal(statusesOf(replies), 'III');
  const err = replies.find((m) => m.type === 'E');
  t.match(err && errorFields(err), { C: '0A000', M: /^SET ROLE is not allowed here/ }, 'the simple Query error keeps its SQLSTATE');
  t.ok(
    replies.slice(0, replies.indexOf(err!)).some((m) => m.type === 'C' && commandTag(m) === 'SELECT 1'),
    'after the first result',
  );
  // One implicit transaction: the INSERT before the refused Parse must not commit.
  w.send(
    parse('insert into sr_items values (9)'),
    bind(),
    describePortal(),
    execute(),
    parse('set role sr_role'),
    bind(),
    execute(),
    syncMsg(),
  );
  const batch = await w.untilReady();
  t.equal(typesOf(batch), '12nCEZ', 'INSERT done, then the Parse fails, then ReadyForQuery');
  t.match(errorFields(batch[4]), { M: /SET ROLE is not allowed here/ });
  t.same(await pg.query('select * from sr_items'), [], 'the batch was rolled back as one transaction, as Postgres would');
  w.send(queryMsg(STATE_SQL));
  t.equal(statusesOf(await w.untilReady()), 'I', 'the connection is in step');
});

t.test('LISTEN is served by the hub even under reject, simple or extended', async (t) => {
  const sluice = await startSluice(t, pg, { default_pool_size: 1, session_state: 'reject' });
  const w = await wire(t, sluice);
  w.send(queryMsg('LISTEN sr_chan'));
  const ok = await w.untilReady();
  t.equal(typesOf(ok), 'CZ');
  t.equal(commandTag(ok[0]), 'LISTEN');
  w.send(extendedQuery('LISTEN sr_other'));
  const extended = await w.untilReady();
  t.equal(typesOf(extended), '12nCZ', 'ParseComplete, BindComplete, NoData, CommandComplete, ReadyForQuery');
  t.equal(commandTag(extended[3]), 'LISTEN');
  w.send(queryMsg(STATE_SQL));
  const row = (await w.untilReady()).find((m) => m.type === 'D');
  t.ok(row, 'a row');
  t.equal(sluice.pooler.notifyHub.stats()[0]?.channels, 2, 'the hub listens on both channels');
});

t.test('a user setting overrides the database, which overrides the top level', async (t) => {
  const users = testUsers();
  const sluice = await startSluice(t, pg, {
    session_state: 'allow',
    databases: { [APP_DB]: { host: pg.host, port: pg.port, dbname: APP_DB, session_state: 'reject' } },
    users: { ...users, bob: { ...users.bob, session_state: 'allow' } },
  });
  const alice = await client(t, sluice, 'alice');
  const bob = await client(t, sluice, 'bob');
  await t.rejects(alice.query('set role sr_role'), REJECTED, 'alice gets the database setting');
  await bob.query('set role sr_role');
  t.pass('bob has his own setting');
  sluice.reload({
    session_state: 'allow',
    databases: { [APP_DB]: { host: pg.host, port: pg.port, dbname: APP_DB } },
    users,
  });
  await alice.query('set role sr_role');
  t.pass('a reload applies to connected clients at their next statement');
});
