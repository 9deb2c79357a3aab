// Tests for session-state classification with the real PostgreSQL grammar, and for how the session_state policy is resolved.
import t from 'tap';
import { StateParser, sessionStatePolicy } from '../../../../lib/session/state/session-state.js';
import { parseConfig } from '../../../../lib/config/schema.js';

const parser = await StateParser.load();
const kinds = (sql: string) => parser.classify(sql).effects.map((e) => e.kind);
const names = (sql: string) => parser.classify(sql).effects.map((e) => e.statement);

t.test('each kind of session state is recognised and named', async (t) => {
  t.same(parser.classify('LISTEN Jobs').listenOps, [{ listen: true, channel: 'jobs' }], 'unquoted channel names fold to lower case');
  t.same(names('SET ROLE bob'), ['SET ROLE']);
  t.same(names('set session authorization bob'), ['SET SESSION AUTHORIZATION']);
  t.same(names("select set_config('role', 'bob', false)"), ["set_config('role', …, false)"]);
  t.same(names('select set_config($1, $2, false)'), ['set_config(…, …, false)']);
  for (const sql of ['SET ROLE bob', 'set session authorization bob', 'select set_config($1, $2, false)']) {
    t.ok(parser.classify(sql).effects[0].uncarried, `${sql}: cannot follow its client`);
  }
  t.same(names('select pg_advisory_lock(1), pg_catalog.pg_try_advisory_lock_shared(2)'), [
    'pg_advisory_lock()',
    'pg_try_advisory_lock_shared()',
  ]);
  t.same(names('select * from jobs where pg_try_advisory_lock(id) limit 1'), ['pg_try_advisory_lock()'], 'inside a WHERE clause');
  t.same(names('create temp table t (x int)'), ['CREATE TEMP TABLE t']);
  t.same(names('create table pg_temp.t (x int)'), ['CREATE TEMP TABLE t']);
  t.same(names('create temporary table t as select 1'), ['CREATE TEMP TABLE t']);
  t.same(names('select 1 into temp t'), ['CREATE TEMP TABLE t']);
  t.same(names('create temp view v as select 1'), ['CREATE TEMP VIEW v']);
  t.same(names('create temp sequence s'), ['CREATE TEMP SEQUENCE s']);
  t.same(names("create function pg_temp.f() returns int language sql as 'select 1'"), ['CREATE FUNCTION pg_temp.f']);
  t.same(names('CREATE STATISTICS pg_temp.s ON a, b FROM ab1'), ['CREATE STATISTICS pg_temp.s']);
  t.same(names('create type pg_temp.t as (a int)'), ['CREATE TYPE pg_temp.t']);
  t.same(names('create domain pg_temp.d as int'), ['CREATE DOMAIN pg_temp.d']);
  t.same(names("create type pg_temp.e as enum ('a')"), ['CREATE TYPE pg_temp.e']);
  t.same(names('create aggregate pg_temp.agg(int) (sfunc = int4pl, stype = int)'), ['CREATE AGGREGATE pg_temp.agg']);
  t.same(names('create statistics s on a, b from ab1; create domain d as int'), [], 'the same, not in pg_temp: no state');
  t.same(names('declare c cursor with hold for select 1'), ['DECLARE c CURSOR WITH HOLD']);
  t.same(names('prepare p as select 1'), ['PREPARE p']);
});

t.test('what ends with its transaction, or is carried by Sluice, is not session state', async (t) => {
  for (const sql of [
    'set local statement_timeout = 5',
    'set transaction isolation level serializable',
    'select pg_advisory_xact_lock(1)',
    'create temp table t (x int) on commit drop',
    'declare c cursor for select 1',
    "prepare transaction 'gid'",
    'set search_path = a, b',
    'set time zone utc',
    "set names 'latin1'",
    'SET application_name = x',
    'set datestyle = iso',
    "select set_config('app.user', '7', true)",
    "select set_config('search_path', 'a', false)",
    'select 1',
    "select 'pg_advisory_lock(1)'",
    'create table t (x int)',
    'set statement_timeout to default',
    'reset all',
    'set statement_timeout = 5',
    'set work_mem = 64',
    "select set_config('app.user', '7', false)",
    'reset role',
    'set session characteristics as transaction isolation level serializable',
    'reset session authorization',
  ]) {
    t.same(kinds(sql), [], sql);
  }
});

t.test('statements that may change a session-level setting are marked, so the values are read back after the transaction', async (t) => {
  for (const sql of [
    'set search_path = a, b',
    'SET extra_float_digits = 0',
    'reset search_path',
    'RESET ALL',
    'discard all',
    'set time zone utc',
    "select set_config('search_path', 'a', false)",
    'select set_config($1, $2, false)',
    "select set_config('x.y', 'a', $1)",
    'select 1; set search_path to default',
    'set statement_timeout = 5',
    'reset statement_timeout',
    'set "MyApp".x = 1',
    'set session characteristics as transaction isolation level serializable',
    'set work_mem from current',
    "do $$ begin perform set_config('work_mem', '8MB', false); end $$",
    'DO LANGUAGE plpgsql $x$ BEGIN SET enable_seqscan = off; END $x$',
  ]) {
    t.equal(parser.classify(sql).carried, true, sql);
  }
  for (const sql of [
    'set local search_path = a',
    'set transaction isolation level serializable',
    "select set_config('search_path', 'a', true)",
    'discard plans',
    'select 1',
    'SET ROLE bob',
  ]) {
    t.equal(parser.classify(sql).carried, false, sql);
  }
  t.same(
    parser.classify(`set "MyApp".x = 1; select set_config('other.Y', 'v', false); set work_mem = 1`).customs,
    ['myapp.x', 'other.y'],
    'custom settings are named, lower-case, for the read-back',
  );
});

t.test("a call of a function that may be the user's is carried, and named for the read-back; pg_catalog ones are not", async (t) => {
  for (const [sql, functions] of [
    ['select my_fn()', ['my_fn']],
    ['SELECT App.Set_Tenant($1), other(2)', ['set_tenant', 'other']],
    ['call my_proc(1)', ['my_proc']],
    ['select * from my_srf(1) join t on my_fn(t.a)', ['my_srf', 'my_fn']],
    ['insert into t values (my_fn())', ['my_fn']],
  ] as const) {
    t.match(parser.classify(sql), { carried: true, functions }, sql);
  }
  for (const sql of [
    'select count(*), now(), lower(x), pg_catalog.anything(1) from t',
    "select extract(epoch from now()), trim(' x '), coalesce(a, b) from t",
    'select pg_advisory_xact_lock(1)',
  ]) {
    t.match(parser.classify(sql), { carried: false, functions: [] }, sql);
  }
});

t.test("a DO block's custom settings are named for the read-back", async (t) => {
  const found = parser.classify(
    `do $$ begin perform set_config('MyApp.Tenant', 'x', false); SET other.thing = 1; set local skip.me = 1; end $$`,
  );
  t.match(found, { carried: true, customs: ['myapp.tenant', 'other.thing'] });
});

t.test('multi-statement strings report every statement; LISTEN and UNLISTEN become operations, not policy matters', async (t) => {
  t.same(kinds('select 1; set role bob; create temp table t (x int)'), ['set', 'temp']);
  const only = parser.classify('LISTEN a; listen "B"; UNLISTEN a; UNLISTEN *');
  t.same(only.listenOps, [
    { listen: true, channel: 'a' },
    { listen: true, channel: 'B' },
    { listen: false, channel: 'a' },
    { listen: false, channel: null },
  ]);
  t.equal(only.onlyListen, true);
  const mixed = parser.classify('LISTEN a; select 1; set role bob');
  t.equal(mixed.onlyListen, false, 'a mix is not LISTEN-only');
  t.same(mixed.listenOps, [{ listen: true, channel: 'a' }], 'but its LISTEN is still seen');
  t.same(
    mixed.effects.map((e) => e.kind),
    ['set'],
    'and is no state for the policy',
  );
});

t.test('text that does not parse has no effects (Postgres refuses it too)', async (t) => {
  t.same(parser.classify('set statement_timeout ='), {
    effects: [],
    listenOps: [],
    onlyListen: false,
    carried: false,
    customs: [],
    functions: [],
    resets: false,
    tempSchema: false,
  });
  t.same(parser.classify(''), {
    effects: [],
    listenOps: [],
    onlyListen: false,
    carried: false,
    customs: [],
    functions: [],
    resets: false,
    tempSchema: false,
  });
});

t.test('session_state: a user setting wins over its database, which wins over the top level', async (t) => {
  const config = parseConfig(
    {
      auth_type: 'trust',
      session_state: 'reject',
      databases: { app: { host: 'h', session_state: 'pin' }, other: { host: 'h' } },
      users: { alice: { session_state: 'allow' }, bob: {} },
    },
    { baseDir: '.' },
  );
  t.equal(sessionStatePolicy(config, 'app', 'alice'), 'allow');
  t.equal(sessionStatePolicy(config, 'app', 'bob'), 'pin');
  t.equal(sessionStatePolicy(config, 'other', 'bob'), 'reject');
  t.equal(sessionStatePolicy(config, 'other', 'carol'), 'reject');
  const plain = parseConfig({ auth_type: 'trust', databases: { app: { host: 'h' } } }, { baseDir: '.' });
  t.equal(plain.session_state, 'allow', 'the default passes statements through, as PgBouncer does');
  t.throws(() => parseConfig({ auth_type: 'trust', session_state: 'track', databases: { app: { host: 'h' } } }, { baseDir: '.' }), {
    message: /session_state: expected one of pin, reject, allow, got "track"/,
  });
});

t.test('RESET, RESET ALL, SET … TO DEFAULT and DISCARD ALL are marked: the startup values come back after them', async (t) => {
  for (const sql of ['reset work_mem', 'RESET ALL', 'set datestyle to default', 'discard all', 'select 1; reset "MyApp".x']) {
    t.equal(parser.classify(sql).resets, true, sql);
  }
  for (const sql of ['set work_mem = 1', 'discard plans', 'set local work_mem to default', "select set_config('work_mem', '1MB', false)"]) {
    t.equal(parser.classify(sql).resets, false, sql);
  }
});

t.test('a temp table dropped at commit is no state, but marks the temp schema its backend keeps', async (t) => {
  const c = parser.classify('create temp table t (x int) on commit drop');
  t.same(c.effects, []);
  t.equal(c.tempSchema, true);
  t.equal(parser.classify('create temp table t (x int)').tempSchema, false, 'a lasting one is state of its own');
});
