// Proves that every setting follows its client, in both pool modes: session SETs of any parameter, startup parameters and `options`, RESET to the client's startup values, and Postgres' own error for a startup value it refuses.
import t, { type Test } from 'tap';
import pgLib from 'pg';
import postgres from 'postgres';
import { startTestPostgres } from '../helpers/postgres.js';
import { startSluice, type TestSluice } from '../helpers/sluice.js';
import { psql } from '../helpers/run.js';

const pg = await startTestPostgres(t);
await pg.query('create schema if not exists sf_schema authorization alice');
/** A fresh session's values, read straight from Postgres. */
const [DEFAULTS] = await pg.query(`select current_setting('statement_timeout') as st, current_setting('work_mem') as wm,
  current_setting('search_path') as sp, current_setting('default_transaction_isolation') as iso,
  current_setting('DateStyle') as ds, coalesce(current_setting('myapp.x', true), '') as x, current_setting('lock_timeout') as lt`);

const SETTINGS_SQL = `select current_setting('statement_timeout') as st, current_setting('work_mem') as wm,
  current_setting('search_path') as sp, current_setting('default_transaction_isolation') as iso,
  current_setting('DateStyle') as ds, coalesce(current_setting('myapp.x', true), '') as x, current_setting('lock_timeout') as lt,
  pg_backend_pid() as pid`;

type Row = Record<string, any>;

async function client(t: Test, sluice: TestSluice, extra: pgLib.ClientConfig = {}): Promise<pgLib.Client> {
  const c = new pgLib.Client({ ...sluice.options('alice'), ...extra });
  await c.connect();
  t.teardown(() => c.end().catch(() => undefined));
  return c;
}

const settings = async (c: pgLib.Client): Promise<Row> => (await c.query(SETTINGS_SQL)).rows[0];
const without = ({ pid: _pid, ...rest }: Row): Row => rest;

for (const mode of ['transaction', 'session'] as const) {
  t.test(`${mode} mode: startup parameters and options are applied, not dropped`, async (t) => {
    const sluice = await startSluice(t, pg, { pool_mode: mode, default_pool_size: 2 });
    const c = await client(t, sluice, { statement_timeout: 1234, options: '-c work_mem=7MB --lock-timeout=3s -c myapp.x=hello\\ world' });
    const s = await settings(c);
    t.match(s, { st: '1234ms', wm: '7MB', lt: '3s', x: 'hello world' }, 'a startup parameter, -c, --name-with-dashes, an escaped space');
    await t.rejects(c.query('select pg_sleep(2)'), { code: '57014' }, 'statement_timeout really applies');
  });

  t.test(`${mode} mode: a startup value Postgres refuses ends the login with Postgres' own error`, async (t) => {
    const sluice = await startSluice(t, pg, { pool_mode: mode, default_pool_size: 2 });
    const bad = async (extra: pgLib.ClientConfig) => {
      const c = new pgLib.Client({ ...sluice.options('alice'), ...extra });
      c.on('error', () => undefined);
      return c.connect().then(
        () => c.end().then(() => null),
        (e: { code: string; message: string; severity: string }) => e,
      );
    };
    t.match(await bad({ statement_timeout: 'soon' as unknown as number }), {
      code: '22023',
      severity: 'FATAL',
      message: /invalid value for parameter "statement_timeout"/,
    });
    t.match(await bad({ options: '-c no_such_setting=1' }), {
      code: '42704',
      severity: 'FATAL',
      message: /unrecognized configuration parameter "no_such_setting"/,
    });
    t.match(
      await bad({ options: '-c work_mem=lots' }),
      { code: '22023', severity: 'FATAL' },
      'the same value again is refused again (nothing cached)',
    );
    t.match(
      await bad({ options: '-B 100' }),
      { code: '08P01', message: /options switch -B/ },
      'a command-line switch that is not a setting',
    );
    const ok = await client(t, sluice, { options: '-c work_mem=5MB' });
    t.equal((await settings(ok)).wm, '5MB', 'a good client on the same pool is fine');
  });

  t.test(`${mode} mode: RESET and RESET ALL return to the client's startup values (psql, PGDATESTYLE and PGOPTIONS)`, async (t) => {
    const sluice = await startSluice(t, pg, { pool_mode: mode, default_pool_size: 2 });
    const env = { ...sluice.env(), PGDATESTYLE: 'Postgres, MDY', PGOPTIONS: '-c statement_timeout=4321' };
    const r = await psql(
      [
        '-q',
        '-c',
        'show DateStyle',
        '-c',
        'show statement_timeout',
        '-c',
        `set DateStyle = 'SQL, DMY'`,
        '-c',
        'set statement_timeout = 5',
        '-c',
        'show DateStyle',
        '-c',
        'reset DateStyle',
        '-c',
        'show DateStyle',
        '-c',
        'reset all',
        '-c',
        'show statement_timeout',
        '-c',
        'show DateStyle',
      ],
      env,
    );
    t.equal(r.code, 0, r.err);
    t.same(r.out.split('\n'), ['Postgres, MDY', '4321ms', 'SQL, DMY', 'Postgres, MDY', '4321ms', 'Postgres, MDY']);
  });
}

t.test("transaction mode: a client's SETs stay with it across server connections, and other clients never see them", async (t) => {
  const sluice = await startSluice(t, pg, { default_pool_size: 2 });
  const a = await client(t, sluice);
  const b = await client(t, sluice);
  await a.query(`SET statement_timeout = '9s'; SET search_path = sf_schema, public; SET work_mem = '9MB'`);
  await a.query('SET SESSION CHARACTERISTICS AS TRANSACTION ISOLATION LEVEL SERIALIZABLE');
  await a.query(`SET myapp.x = 'mine'`);
  await a.query(`select set_config('lock_timeout', '2500ms', false)`);
  const mine = { st: '9s', sp: 'sf_schema, public', wm: '9MB', iso: 'serializable', x: 'mine', lt: '2500ms', ds: DEFAULTS.ds };
  const aPids = new Set<number>();
  const bPids = new Set<number>();
  for (let round = 0; round < 6; round++) {
    // Both at once, so they hold both backends; the order they ask in changes which gets which.
    const slow = (c: pgLib.Client) => c.query('select pg_sleep(0.05)').then(() => settings(c));
    const [sa, sb] = round % 2 === 0 ? await Promise.all([slow(a), slow(b)]) : (await Promise.all([slow(b), slow(a)])).reverse();
    t.same(without(sa), mine, `round ${round}: a has its own values`);
    t.same(without(sb), DEFAULTS, `round ${round}: b has the defaults`);
    aPids.add(sa.pid);
    bPids.add(sb.pid);
    t.equal(
      (await b.query('show transaction_isolation')).rows[0].transaction_isolation,
      DEFAULTS.iso,
      'b transactions are not serializable',
    );
  }
  t.equal(new Set([...aPids, ...bPids]).size, 2, 'two backends');
  t.ok(
    [...aPids].some((p) => bPids.has(p)),
    'a and b each ran on a backend the other used',
  );
});

t.test(
  'transaction mode: SET LOCAL does not persist; a function SET clause is untouched; RESET of a SET goes to the default',
  async (t) => {
    const sluice = await startSluice(t, pg, { default_pool_size: 1 });
    await pg.query(
      `create or replace function sf_fn() returns text language sql set work_mem = '3MB' as $$ select current_setting('work_mem') $$`,
    );
    const a = await client(t, sluice);
    const b = await client(t, sluice);
    await a.query('begin');
    await a.query(`set local work_mem = '6MB'`);
    await a.query('commit');
    t.equal((await settings(a)).wm, DEFAULTS.wm, 'SET LOCAL ended with its transaction');
    t.equal((await a.query('select sf_fn() as f')).rows[0].f, '3MB', "the function's own SET applies inside it");
    t.equal((await settings(a)).wm, DEFAULTS.wm, 'and not after');
    await a.query(`set work_mem = '6MB'`);
    await a.query(`reset work_mem`);
    t.equal((await settings(a)).wm, DEFAULTS.wm);
    await a.query(`set work_mem = '6MB'`);
    t.equal((await settings(b)).wm, DEFAULTS.wm, 'b does not see it');
    t.equal((await settings(a)).wm, '6MB', 'a does');
  },
);

t.test(
  'transaction mode: a SET inside a DO block stays with its client, and the next client of that backend has the default',
  async (t) => {
    const sluice = await startSluice(t, pg, { default_pool_size: 1 });
    const a = await client(t, sluice);
    const b = await client(t, sluice);
    await a.query(`DO $$ BEGIN SET work_mem = '11MB'; PERFORM set_config('lock_timeout', '1500ms', false); END $$`);
    const sb = await settings(b);
    t.match(sb, { wm: DEFAULTS.wm, lt: DEFAULTS.lt }, 'b, on the same backend, has the defaults');
    t.match(await settings(a), { wm: '11MB', lt: '1500ms', pid: sb.pid }, 'a keeps what its DO block set');
  },
);

t.test('postgres.js: connection parameters are applied per client', async (t) => {
  const sluice = await startSluice(t, pg, { default_pool_size: 1 });
  const sql = postgres({
    ...sluice.options('alice'),
    max: 1,
    connection: { statement_timeout: '2222', application_name: 'pjs' } as Record<string, string>,
  });
  t.teardown(() => sql.end());
  const plain = await client(t, sluice);
  const [row] = await sql`select current_setting('statement_timeout') as st, current_setting('application_name') as app`;
  t.same({ ...row }, { st: '2222ms', app: 'pjs' });
  t.equal((await settings(plain)).st, DEFAULTS.st, 'the other client on the same backend has the default');
});

t.test('ignore_startup_parameters drops the named ones, in parameters and in options', async (t) => {
  const sluice = await startSluice(t, pg, { default_pool_size: 1, ignore_startup_parameters: 'statement_timeout, lock_timeout' });
  const c = await client(t, sluice, { statement_timeout: 1234, options: '-c lock_timeout=7s -c work_mem=5MB' });
  t.match(await settings(c), { st: DEFAULTS.st, lt: DEFAULTS.lt, wm: '5MB' }, 'the others still apply');
  const all = await startSluice(t, pg, { default_pool_size: 1, ignore_startup_parameters: ['options'] });
  const d = await client(t, all, { options: '-c work_mem=5MB -B 100' });
  t.equal((await settings(d)).wm, DEFAULTS.wm, 'options ignored whole, even a switch Sluice would refuse');
});

t.test(
  "a client's own tiny statement_timeout cuts none of Sluice's own statements: the read-back, and the next client's sync",
  async (t) => {
    const sluice = await startSluice(t, pg, { default_pool_size: 1 });
    const a = await client(t, sluice);
    const b = await client(t, sluice);
    // Many custom settings make the read-back, and resetting them for the next client, take longer than 1 ms.
    const sets = Array.from({ length: 3000 }, (_, i) => `set sf.x${i} = 'v${i}'`).join('; ');
    await a.query(sets);
    await a.query('set statement_timeout = 1');
    const theirs = (
      await b.query(`select coalesce(current_setting('sf.x2999', true), '') as last, current_setting('statement_timeout') as st`)
    ).rows[0];
    t.same(theirs, { last: '', st: DEFAULTS.st }, 'b, next on the same backend, has none of them');
    const [mine] = (
      (await a.query(`set statement_timeout = 0; select current_setting('sf.x2999') as last`)) as unknown as pgLib.QueryResult[]
    )[1].rows;
    t.equal(mine.last, 'v2999', 'a keeps its settings');
  },
);

t.test(
  "SET SESSION CHARACTERISTICS (pgjdbc's setTransactionIsolation) and a prepared set_config(…, false) stay with their client",
  async (t) => {
    const sluice = await startSluice(t, pg, { default_pool_size: 1 });
    const a = await client(t, sluice);
    const b = await client(t, sluice);
    const isolation = async (c: pgLib.Client) =>
      ((await c.query('begin; show transaction_isolation; commit')) as unknown as pgLib.QueryResult[])[1].rows[0].transaction_isolation;
    await a.query('SET SESSION CHARACTERISTICS AS TRANSACTION ISOLATION LEVEL SERIALIZABLE');
    t.equal(await isolation(b), DEFAULTS.iso, 'b, on the same backend, is not serializable');
    t.equal(await isolation(a), 'serializable', 'a is');
    const tag = { name: 'sf-tag', text: `select set_config('myapp.x', $1, false)` };
    await a.query({ ...tag, values: ['one'] });
    await b.query('select 1');
    await a.query({ ...tag, values: ['two'] });
    t.equal((await settings(b)).x, '', 'b never sees the tag');
    t.equal((await settings(a)).x, 'two', 'a has the value of the last run of its prepared statement');
  },
);
