// Proves node-postgres (pg) works through Sluice: queries, parameters, transactions, errors, and many clients multiplexed over a small pool.
import t, { type Test } from 'tap';
import pgLib from 'pg';
import { startTestPostgres, APP_DB } from '../helpers/postgres.js';
import { startSluice, type TestSluice } from '../helpers/sluice.js';

const pg = await startTestPostgres(t);
await pg.query('create table np_items (id int primary key, label text)');
await pg.query('grant all on np_items to alice');

async function client(t: Test, sluice: TestSluice): Promise<pgLib.Client> {
  const c = new pgLib.Client(sluice.options('alice'));
  await c.connect();
  t.teardown(() => c.end());
  return c;
}

function alicePool(sluice: TestSluice) {
  const pool = sluice.pooler.pools.get(`${APP_DB}\0alice`);
  if (!pool) throw new Error('no pool for alice yet');
  return pool;
}

/** Clients queued for a server connection, as their sessions report it. */
function waitingClients(sluice: TestSluice): number {
  return [...sluice.pooler.sessions.values()].filter((s) => s.state === 'waiting').length;
}

async function until(cond: () => boolean, what: string, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

t.test('a simple query', async (t) => {
  const sluice = await startSluice(t, pg);
  const c = await client(t, sluice);
  const r = await c.query('select 1 + 1 as two, current_user as who, current_database() as db');
  t.same(r.rows, [{ two: 2, who: 'alice', db: APP_DB }]);
});

t.test('parameters: text, int, null and bytea round-trip', async (t) => {
  const sluice = await startSluice(t, pg);
  const c = await client(t, sluice);
  const bytes = Buffer.from([0, 1, 2, 0x7f, 0x80, 0xff]);
  const r = await c.query('select $1::text as t, $2::int as i, $3::text as n, $4::bytea as b, $2::int + 1 as j', [
    'héllo wörld',
    41,
    null,
    bytes,
  ]);
  t.equal(r.rows[0].t, 'héllo wörld');
  t.equal(r.rows[0].i, 41);
  t.equal(r.rows[0].j, 42);
  t.equal(r.rows[0].n, null);
  t.ok(Buffer.isBuffer(r.rows[0].b) && bytes.equals(r.rows[0].b), 'bytea comes back byte for byte');
});

t.test('a transaction sees its own temp table and commits', async (t) => {
  const sluice = await startSluice(t, pg, { default_pool_size: 2 });
  const c = await client(t, sluice);
  await c.query('begin');
  await c.query('create temp table np_tmp (x int) on commit drop');
  await c.query('insert into np_tmp values (1), (2), (3)');
  await c.query('insert into np_items values (1, $1)', ['committed']);
  t.same((await c.query('select sum(x)::int as s from np_tmp')).rows, [{ s: 6 }], 'temp table visible inside');
  await c.query('commit');
  t.same(
    (await pg.query('select label from np_items where id = 1')).map((r) => r.label),
    ['committed'],
  );
});

t.test('a rollback discards the work', async (t) => {
  const sluice = await startSluice(t, pg, { default_pool_size: 2 });
  const c = await client(t, sluice);
  await c.query('begin');
  await c.query('insert into np_items values (2, $1)', ['rolled back']);
  t.same((await c.query('select count(*)::int as n from np_items where id = 2')).rows, [{ n: 1 }]);
  await c.query('rollback');
  t.same((await c.query('select count(*)::int as n from np_items where id = 2')).rows, [{ n: 0 }]);
});

t.test('an error inside a transaction keeps the server until ROLLBACK, then all is well', async (t) => {
  const sluice = await startSluice(t, pg, { default_pool_size: 1 });
  const a = await client(t, sluice);
  const b = await client(t, sluice);
  await a.query('begin');
  const pid = (await a.query('select pg_backend_pid() as pid')).rows[0].pid;
  await t.rejects(a.query('select 1/0'), { code: '22012' });
  const bQuery = b.query('select 7 as n');
  await until(() => waitingClients(sluice) === 1, 'b to queue');
  // Still the same aborted backend: a fresh one would just run the query.
  await t.rejects(a.query('select 2'), { code: '25P02' });
  t.equal(alicePool(sluice).used.size, 1, 'a still holds the only server connection');
  await a.query('rollback');
  t.same((await bQuery).rows, [{ n: 7 }], 'b runs once a rolled back');
  const after = await a.query('select pg_backend_pid() as pid, 3 as n');
  t.same(after.rows, [{ pid, n: 3 }], 'a works again on the same (only) backend');
});

t.test('30 clients x 20 queries over a pool of 3: every answer is its own', async (t) => {
  const [{ since }] = await pg.query('select clock_timestamp() as since');
  const sluice = await startSluice(t, pg, { default_pool_size: 3 });
  const clients = await Promise.all(Array.from({ length: 30 }, () => client(t, sluice)));
  let peak = 0;
  const work = clients.map(async (c, ci) => {
    const wrong: string[] = [];
    for (let q = 0; q < 20; q++) {
      const n = ci * 1000 + q;
      const r = await c.query('select $1::int as n, $2::text as tag', [n, `c${ci}`]);
      peak = Math.max(peak, alicePool(sluice).total);
      if (r.rows.length !== 1 || r.rows[0].n !== n || r.rows[0].tag !== `c${ci}`) wrong.push(JSON.stringify(r.rows));
    }
    return wrong;
  });
  const wrong = (await Promise.all(work)).flat();
  t.same(wrong, [], 'all 600 results match their own query');
  t.ok(peak > 0 && peak <= 3, `never more than 3 server connections (peak ${peak})`);
  const [{ n }] = await pg.query(
    `select count(*)::int as n from pg_stat_activity
      where usename = 'alice' and backend_type = 'client backend' and backend_start >= $1`,
    [since],
  );
  t.ok(n > 0 && n <= 3, `Postgres saw at most 3 backends for alice from this Sluice (${n})`);
});
