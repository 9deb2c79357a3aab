// Tests for the cheap session-state scan: what it flags, what it skips (comments, literals, LOCAL), and that it never misses what the parser finds.
import t from 'tap';
import fc from 'fast-check';
import { sqlTextEnd, sqlTextStart } from '../../../../lib/protocol/sql-text.js';
import { scanSessionState, StateHint } from '../../../../lib/session/state/state-scan.js';
import { StateParser } from '../../../../lib/session/state/session-state.js';
import { cstr, message } from '../../../helpers/bytes.js';

const parser = await StateParser.load();

function scan(sql: string): number {
  const b = Buffer.from(sql);
  return scanSessionState(b, 0, b.length);
}

const PARSE = StateHint.Parse;
const RELEASES = StateHint.Releases;

t.test('statements that may create state are flagged for the parser', async (t) => {
  for (const sql of [
    'LISTEN jobs',
    'set statement_timeout = 5',
    'SET SESSION statement_timeout = 5',
    'SET ROLE bob',
    'select pg_advisory_lock(1)',
    'SELECT * FROM t WHERE PG_TRY_ADVISORY_LOCK(id)',
    'create temp table t (x int)',
    'CREATE TEMPORARY TABLE t AS SELECT 1',
    'create table pg_temp.t (x int)',
    'create table "pg_temp".t (x int)',
    'select 1 into temp t',
    'DECLARE c CURSOR WITH HOLD FOR SELECT 1',
    'prepare p as select 1',
    "select set_config('x.y', '1', false)",
    'select 1; set work_mem = 100',
    '/* leading */ -- line\n  listen x',
    'do $$ begin set enable_seqscan = off; end $$',
    'select 1; DO $b$ BEGIN NULL; END $b$',
  ]) {
    t.ok(scan(sql) & PARSE, sql);
  }
});

t.test('ordinary statements are not flagged', async (t) => {
  for (const sql of [
    'select 1',
    'SELECT * FROM pgbench_accounts WHERE aid = $1',
    'update t set x = 1 where id = 2',
    "insert into t values (1, 'set x = 1; listen y')",
    "select 'pg_advisory_lock(1)'",
    "select E'it\\'s; listen x'",
    'select $$; listen x$$',
    'select $tag$ ; create temp table x $tag$',
    'select 1 /* ; listen x */',
    'select 1 /* nested /* ; listen x */ still comment ; listen y */',
    '-- listen x\nselect 1',
    'SET LOCAL statement_timeout = 5',
    'set transaction isolation level serializable',
    'SET CONSTRAINTS ALL DEFERRED',
    'select pg_advisory_xact_lock(1)',
    'select "temperature" from sensors',
    'select temperature from sensors',
    'begin',
    'commit',
  ]) {
    t.equal(scan(sql) & PARSE, 0, sql);
  }
});

/** Calls of names that may be user functions, whose bodies may set anything. */
const CALLS = [
  'select my_fn()',
  'SELECT app.set_tenant($1)',
  'select * from my_srf(1)',
  'CALL my_proc()',
  'select "MyFn"(1)',
  'select my_fn ( 1 )',
  'select x from t where f(x)',
  'insert into t values (my_fn())',
  'select pg_catalog.now(), my_fn()',
];
/** Parentheses that open no call of a user function: pgbench's statements pay nothing. */
const NOT_CALLS = [
  'INSERT INTO pgbench_history (tid, bid, aid, delta, mtime) VALUES (1, 2, 3, 4, CURRENT_TIMESTAMP);',
  'UPDATE pgbench_accounts SET abalance = abalance + 1 WHERE aid = 2;',
  'insert into public.t (a) values (1)',
  'insert into "T" (a) values (1)',
  'select count(*), MAX(x), coalesce(a, b), now() from t where x in (1, 2) and exists (select 1)',
  'select cast(x as numeric(10, 2)), lower(name), date_trunc($1, ts) from t',
  'copy t (a, b) from stdin',
  "select 'my_fn(1)'",
  'select x -- my_fn(1)\nfrom t',
];

t.test('a call of a name that is neither a keyword nor a common pg_catalog function goes to the parser', async (t) => {
  t.same(
    CALLS.filter((sql) => !(scan(sql) & PARSE)),
    [],
    'every possible user function call is flagged',
  );
  t.same(
    NOT_CALLS.filter((sql) => scan(sql) & PARSE),
    [],
    'keywords, common pg_catalog functions and column lists are not',
  );
});

t.test('statements that may drop state are flagged as releases', async (t) => {
  for (const sql of [
    'UNLISTEN *',
    'discard all',
    'DEALLOCATE ALL',
    'close all',
    'drop table t',
    'reset statement_timeout',
    'select pg_advisory_unlock_all()',
    'select pg_advisory_unlock(1)',
    'set statement_timeout to default',
  ]) {
    t.ok(scan(sql) & RELEASES, sql);
  }
  t.equal(scan('select 1') & RELEASES, 0);
});

t.test('RESET and DISCARD go to the parser: they may reset a parameter Sluice carries', async (t) => {
  for (const sql of ['RESET search_path', 'reset all', 'DISCARD ALL']) t.ok(scan(sql) & PARSE, sql);
});

t.test('the SQL text of Query and Parse messages is found', async (t) => {
  const q = message('Q', cstr('listen x'));
  const at = sqlTextStart(0x51, q, 0, q.length);
  t.equal(q.toString('utf8', at, sqlTextEnd(q, at, q.length)), 'listen x');
  const p = message('P', Buffer.concat([cstr('s1'), cstr('set x = 1'), Buffer.alloc(2)]));
  const pat = sqlTextStart(0x50, p, 0, p.length);
  t.equal(p.toString('utf8', pat, sqlTextEnd(p, pat, p.length)), 'set x = 1');
  t.equal(sqlTextStart(0x42, p, 0, p.length), -1, 'not for Bind');
});

const STATEFUL = [
  'listen ch',
  'unlisten ch',
  'set work_mem = 64',
  'set session authorization bob',
  'select pg_advisory_lock(7)',
  'select pg_catalog.pg_try_advisory_lock_shared(1, 2)',
  'create temp table tt (x int)',
  'create temporary view v as select 1',
  'create temp sequence s',
  'declare c cursor with hold for select 1',
  'prepare p (int) as select $1',
  "select set_config('a.b', 'v', false)",
  'select my_fn()',
  'select app.set_tenant(1)',
  'select * from my_srf(1) as r',
  'call my_proc()',
  'select "MyFn"(1)',
  'select x from t where f (x)',
  'select 1 into temporary t',
  'set session characteristics as transaction read only',
];
const PLAIN = [
  'select 1',
  'insert into t values (1)',
  'update t set a = 2',
  "select 'listen x'",
  'set local work_mem = 1',
  'select pg_advisory_xact_lock(1)',
  'begin',
  'commit',
  'create table t (x int)',
  'with x as (select 1) select * from x',
  'insert into pgbench_history (tid, bid, aid, delta, mtime) values (1, 2, 3, 4, current_timestamp)',
  'select count(*), max(a), coalesce(a, b), now() from t where a in (1, 2) and exists (select 1)',
];
const NOISE = [' ', '\n', '/* c */ ', '-- c\n', '/* a /* b */ c */'];

t.test('property: whenever the parser finds state, the scan asked for it', async () => {
  fc.assert(
    fc.property(
      fc.array(fc.tuple(fc.constantFrom(...NOISE), fc.constantFrom(...STATEFUL, ...PLAIN), fc.boolean()), { minLength: 1, maxLength: 4 }),
      (parts) => {
        const sql = parts.map(([noise, stmt, upper]) => noise + (upper ? stmt.toUpperCase() : stmt)).join('; ');
        const found = parser.classify(sql);
        if (found.effects.length > 0 || found.listenOps.length > 0 || found.carried) return (scan(sql) & PARSE) !== 0;
        return true;
      },
    ),
    { numRuns: 500 },
  );
});

t.test('lastval and currval are found in any case; other words ending in val are not', async (t) => {
  for (const sql of [
    'SELECT LASTVAL()',
    'select lastval()',
    "select currval('s')",
    'select pg_catalog.Currval($1)',
    'select 1;select lastval ()',
  ]) {
    t.ok(scan(sql) & StateHint.SequenceCache, sql);
  }
  for (const sql of [
    'select nextval($1)',
    'select interval_val from t',
    'select my_lastval() ',
    'select lastvalue from s',
    'select val',
    "select 'lastval()'",
    'select 1 /* lastval() */',
  ]) {
    t.notOk(scan(sql) & StateHint.SequenceCache, sql);
  }
});
