// Proves that in transaction mode each client keeps its own session parameters (SET or startup packet) on a server connection it shares with others.
import t, { type Test } from 'tap';
import pgLib from 'pg';
import { startTestPostgres, APP_DB } from '../helpers/postgres.js';
import { startSluice } from '../helpers/sluice.js';
import { WireClient, copyData, queryMsg, rowsOf, statusesOf } from '../helpers/wire.js';

const pg = await startTestPostgres(t);
await pg.query('create schema if not exists a_schema authorization alice');
await pg.query(`create table a_schema.marker (who text); insert into a_schema.marker values ('a-schema')`);
await pg.query(`grant select on a_schema.marker to alice`);
await pg.query(`create table public.marker (who text); insert into public.marker values ('public')`);
await pg.query(`grant select on public.marker to alice`);
// One server connection: every client below runs on the very same backend, one transaction at a time.
const sluice = await startSluice(t, pg, { default_pool_size: 1 });

/** What a fresh session gets by default, read straight from Postgres. */
const [DEFAULTS] = await pg.query(`select current_setting('TimeZone') as tz, current_setting('DateStyle') as ds,
  current_setting('IntervalStyle') as ist, current_setting('search_path') as sp`);

async function client(t: Test, extra: pgLib.ClientConfig = {}): Promise<pgLib.Client> {
  const c = new pgLib.Client({ ...sluice.options('alice'), ...extra });
  await c.connect();
  t.teardown(() => c.end());
  return c;
}

const SETTINGS_SQL = `select current_setting('TimeZone') as tz, current_setting('DateStyle') as ds,
  current_setting('IntervalStyle') as ist, current_setting('application_name') as app,
  current_setting('search_path') as sp, (select who from marker) as marker,
  to_char(timestamptz '2024-01-15 12:00:00+00', 'HH24:MI') as local_noon, pg_backend_pid() as pid`;

async function settings(c: pgLib.Client) {
  return (await c.query(SETTINGS_SQL)).rows[0];
}

t.test('Postgres 18 reports search_path, earlier majors do not (Sluice then reads it back after a SET)', async (t) => {
  const w = await WireClient.connect({ host: pg.host, port: pg.port, user: 'bob', password: 'bob-secret', database: APP_DB });
  t.teardown(() => w.close());
  const reports = Number.parseInt(pg.version, 10) >= 18;
  t.equal(w.params.has('search_path'), reports, `server ${pg.version} ${reports ? 'sends' : 'does not send'} ParameterStatus search_path`);
  t.notOk(w.params.has('extra_float_digits'), 'no major reports extra_float_digits');
});

t.test("one client's SET never shows in another's transactions on the shared server", async (t) => {
  const a = await client(t);
  const b = await client(t);
  await a.query(`SET TimeZone = 'America/New_York'`);
  await a.query(`SET DateStyle = 'SQL, DMY'`);
  await a.query(`SET IntervalStyle = 'iso_8601'`);
  await a.query(`SET application_name = 'client-a'`);
  await a.query(`SET search_path TO a_schema, public`);
  const mine = {
    tz: 'America/New_York',
    ds: 'SQL, DMY',
    ist: 'iso_8601',
    app: 'client-a',
    sp: 'a_schema, public',
    marker: 'a-schema',
    local_noon: '07:00',
  };
  const theirs = { tz: DEFAULTS.tz, ds: DEFAULTS.ds, ist: DEFAULTS.ist, app: '', sp: DEFAULTS.sp, marker: 'public' };
  const pid = (await settings(a)).pid;
  for (let round = 0; round < 3; round++) {
    const sb = await settings(b);
    t.match(sb, theirs, `round ${round}: b sees the defaults, not a's values`);
    t.equal((await b.query('SHOW TimeZone')).rows[0].TimeZone, DEFAULTS.tz, 'SHOW TimeZone for b');
    const sa = await settings(a);
    t.match(sa, mine, `round ${round}: a gets its own values back`);
    t.equal((await a.query('SHOW TimeZone')).rows[0].TimeZone, 'America/New_York', 'SHOW TimeZone for a');
    t.equal(sb.pid, pid, 'b ran on the same backend');
    t.equal(sa.pid, pid, 'a ran on the same backend');
  }
});

t.test('SET LOCAL and a rolled-back SET do not stick to the client', async (t) => {
  const a = await client(t);
  const b = await client(t);
  await a.query(`SET TimeZone = 'America/New_York'`);
  await a.query('BEGIN');
  await a.query(`SET LOCAL TimeZone = 'Asia/Tokyo'`);
  t.equal((await settings(a)).tz, 'Asia/Tokyo', 'SET LOCAL applies inside the transaction');
  await a.query('COMMIT');
  await a.query('BEGIN');
  await a.query(`SET TimeZone = 'Europe/Paris'`);
  await a.query('ROLLBACK');
  t.equal((await settings(b)).tz, DEFAULTS.tz, 'b is unaffected');
  t.equal((await settings(a)).tz, 'America/New_York', "a is back to its session value, as Postgres' own rules say");
});

t.test('parameters a server may not report (search_path before 18, extra_float_digits) follow their client', async (t) => {
  const a = await client(t);
  const b = await client(t);
  const show = async (c: pgLib.Client) =>
    (await c.query(`select current_setting('search_path') as sp, current_setting('extra_float_digits') as efd, pg_backend_pid() as pid`))
      .rows[0];
  const [defaults] = await pg.query(`select current_setting('search_path') as sp, current_setting('extra_float_digits') as efd`);
  await a.query('SET search_path = a_schema, public; SET extra_float_digits = 0');
  t.match(await show(b), defaults, 'b, next on the same backend, sees the defaults');
  t.match(await show(a), { sp: 'a_schema, public', efd: '0' }, 'a keeps its values on the next transaction');

  await a.query('BEGIN');
  await a.query(`SET search_path = public`);
  await a.query('ROLLBACK');
  await a.query('BEGIN');
  await a.query(`SET LOCAL extra_float_digits = 2`);
  await a.query('COMMIT');
  t.match(await show(b), defaults, 'b still sees the defaults');
  t.match(await show(a), { sp: 'a_schema, public', efd: '0' }, 'a rolled-back SET and a SET LOCAL leave a as it was');

  await a.query(`select set_config('extra_float_digits', '1', false)`);
  await a.query('RESET search_path');
  t.match(await show(a), { sp: defaults.sp, efd: '1' }, 'set_config(…, false) and RESET are followed too');
  t.match(await show(b), defaults);
  await a.query('RESET ALL');
  t.match(await show(a), defaults, 'RESET ALL goes back to the defaults');
  const sa = await show(a);
  t.equal((await show(b)).pid, sa.pid, 'every transaction here ran on the one backend');
});

t.test(
  'a client that leaves before its SET was read back leaves nothing behind (SET, then a COPY that fails, then Terminate)',
  async (t) => {
    await pg.query('create table if not exists copy_sink (n int); grant all on copy_sink to alice');
    const w = await WireClient.connect({ host: '127.0.0.1', port: sluice.port, user: 'alice', password: 'alice-secret', database: APP_DB });
    // In one write: Sluice holds the connection for the COPY data, so the transaction never ends on its own.
    w.send(queryMsg('SET search_path = a_schema, public; SET extra_float_digits = 0'), queryMsg('COPY public.copy_sink FROM STDIN'));
    const types = () => w.next().then((m) => m.type);
    while ((await types()) !== 'G');
    w.send(copyData('too\tmany\tcolumns\n'));
    while ((await types()) !== 'Z');
    await w.close();
    const b = await client(t);
    const { rows } = await b.query(`select current_setting('search_path') as sp, current_setting('extra_float_digits') as efd`);
    const [defaults] = await pg.query(`select current_setting('search_path') as sp, current_setting('extra_float_digits') as efd`);
    t.same(rows[0], defaults, 'the next client on that backend sees the defaults');
  },
);

t.test('a prepared statement that SETs a carried parameter is followed each time it runs', async (t) => {
  const a = await client(t);
  const b = await client(t);
  const setOne = { name: 'efd-one', text: 'SET extra_float_digits = 1' };
  await a.query(setOne);
  await a.query('SET extra_float_digits = 3');
  await a.query(setOne);
  await b.query('select 1');
  t.equal((await a.query('SHOW extra_float_digits')).rows[0].extra_float_digits, '1', 'the second run of the statement counts');
  t.equal(
    (await b.query('SHOW extra_float_digits')).rows[0].extra_float_digits,
    (await pg.query('SHOW extra_float_digits'))[0].extra_float_digits,
  );
});

t.test('startup-packet application_name is honoured per client, visible in pg_stat_activity', async (t) => {
  const alpha = await client(t, { application_name: 'alpha' });
  const beta = await client(t, { application_name: 'beta' });
  const plain = await client(t);
  for (const [c, name] of [
    [alpha, 'alpha'],
    [beta, 'beta'],
    [plain, ''],
    [alpha, 'alpha'],
  ] as const) {
    await c.query('BEGIN');
    const r = (await c.query(`SHOW application_name`)).rows[0].application_name;
    const pid = (await c.query('select pg_backend_pid() as pid')).rows[0].pid;
    // Observed from outside while the transaction runs.
    const [seen] = await pg.query('select application_name from pg_stat_activity where pid = $1', [pid]);
    await c.query('COMMIT');
    t.equal(r, name, `SHOW application_name for "${name}"`);
    t.equal(seen.application_name, name, `pg_stat_activity shows "${name}" during its transaction`);
  }
});

t.test("client_encoding LATIN1 stays with its client and doesn't leak", async (t) => {
  const latin = await WireClient.connect({ ...sluice.options('alice'), params: { client_encoding: 'LATIN1' } });
  t.teardown(() => latin.close());
  t.equal(latin.params.get('client_encoding'), 'LATIN1', 'welcomed with its own encoding');
  const setter = await client(t);
  await setter.query(`SET client_encoding TO 'LATIN1'`);
  const utf8 = await client(t);
  const sql = `select length('é') as chars, octet_length('é') as bytes, 'é' as e, current_setting('client_encoding') as enc`;
  for (let round = 0; round < 2; round++) {
    latin.send(queryMsg(sql, 'latin1'));
    const msgs = await latin.untilReady();
    t.equal(statusesOf(msgs), 'I');
    t.same(rowsOf(msgs, 'latin1'), [['1', '2', 'é', 'LATIN1']], `round ${round}: latin1 bytes in and out`);
    t.same((await utf8.query(sql)).rows, [{ chars: 1, bytes: 2, e: 'é', enc: 'UTF8' }], `round ${round}: utf8 client unaffected`);
    t.equal((await setter.query('SHOW client_encoding')).rows[0].client_encoding, 'LATIN1', 'the SET client keeps LATIN1');
  }
});

t.test('startup values in a non-canonical spelling are applied once, not before every transaction', async (t) => {
  const spelled = { DateStyle: 'iso', TimeZone: 'utc', client_encoding: 'utf8' };
  const c = await WireClient.connect({ ...sluice.options('alice'), params: spelled });
  t.teardown(() => c.close());
  const sql = `select current_setting('DateStyle'), current_setting('TimeZone'), current_setting('client_encoding')`;
  c.send(queryMsg(sql));
  t.same(rowsOf(await c.untilReady()), [['ISO, MDY', 'UTC', 'UTF8']], 'the values took effect, as Postgres spells them');
  // Count what Sluice itself sends on the only server connection from now on.
  const conn = sluice.pooler.pools.get(`${APP_DB}\0alice`)?.idle.last();
  if (!conn) throw new Error('expected the idle server connection');
  const internal: string[] = [];
  const runInternal = conn.runInternal.bind(conn);
  conn.runInternal = (q, done) => (internal.push(q), runInternal(q, done));
  t.teardown(() => void (conn.runInternal = runInternal));
  for (let i = 0; i < 5; i++) {
    c.send(queryMsg(sql));
    t.same(rowsOf(await c.untilReady()), [['ISO, MDY', 'UTC', 'UTF8']]);
  }
  t.same(internal, [], 'nothing to re-apply: the server already has these values');
});
