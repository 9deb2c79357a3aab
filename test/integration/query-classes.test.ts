// Proves on real Postgres that query classes cap their concurrency: by application_name rule, by comment tag, and DDL as migration.
import pg from 'pg';
import t from 'tap';
import { startTestPostgres, type TeardownHost } from '../helpers/postgres.js';
import { startSluice, type TestSluice } from '../helpers/sluice.js';
import type { ClassSnapshot } from '../../lib/scheduler/queue/queue-types.js';

const pgServer = await startTestPostgres(t);

/** 4 slots: without the class limit, ten analytics queries would hold all of them. */
const ANALYTICS = {
  max_server_connections: 4,
  default_pool_size: 4,
  classes: { analytics: { limit: 2, lane: 'long' } },
  class_rules: [{ application_name: '^metabase', class: 'analytics' }],
};

async function connect(t: TeardownHost, sluice: TestSluice, applicationName?: string): Promise<pg.Client> {
  const c = new pg.Client({ ...sluice.options('alice'), application_name: applicationName });
  c.on('error', () => undefined); // Failures surface as rejected queries.
  await c.connect();
  t.teardown(() => c.end().catch(() => undefined));
  return c;
}

/** Runs `work` while sampling how many backends run `sql` right now; returns the samples. */
async function sampleWhile(sql: string, work: Promise<unknown>): Promise<number[]> {
  let done = false;
  const finished = work.finally(() => (done = true));
  const samples: number[] = [];
  while (!done) {
    const [{ n }] = await pgServer.query(`select count(*)::int as n from pg_stat_activity where state = 'active' and query = $1`, [sql]);
    samples.push(n);
    await new Promise((r) => setTimeout(r, 15));
  }
  await finished;
  return samples;
}

/** Alice's class `cls` in the scheduler's snapshot of whichever budget she queues under. */
function classOf(sluice: TestSluice, cls: string): ClassSnapshot | undefined {
  for (const snap of sluice.pooler.scheduler.snapshots().values()) {
    const found = snap.tenants.find((x) => x.tenant === 'alice')?.classes.find((c) => c.cls === cls);
    if (found) return found;
  }
  return undefined;
}

/** Polls the scheduler's state (no wall-clock race): resolves once `ok` holds, fails after `ms`. */
async function until(what: string, ok: () => boolean, ms = 20_000): Promise<void> {
  for (const end = Date.now() + ms; !ok(); await new Promise((r) => setTimeout(r, 5))) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
  }
}

t.test('an application_name rule puts metabase in analytics: never more than 2 at once, and short queries still run', async (t) => {
  const sluice = await startSluice(t, pgServer, ANALYTICS);
  const sql = 'select pg_sleep(0.5)';
  const metabase = await Promise.all(Array.from({ length: 10 }, (_, i) => connect(t, sluice, `metabase-${i}`)));
  const app = await connect(t, sluice);
  let analyticsDone = 0;
  const analytics = Promise.all(metabase.map((c) => c.query(sql).then(() => analyticsDone++)));

  // The class limit, read from the scheduler: analytics holds exactly its 2 slots while the rest queue
  // (at least a second of work left). Were the limit ignored, analytics would hold all 4 slots instead.
  await until('analytics to hold 2 slots with the rest queued', () => {
    const a = classOf(sluice, 'analytics');
    return a?.held === 2 && a.queued >= 4;
  });
  // The default class must not wait behind them: each of its transactions is granted without queueing.
  // The scheduler timestamps grants itself, so a slow machine lengthens round trips, not these waits.
  const shortQueries = (async () => {
    for (let i = 0; i < 20; i++) await app.query('select 1');
  })();
  const samples = await sampleWhile(sql, Promise.all([analytics, shortQueries]));
  const peak = Math.max(...samples);
  t.equal(peak, 2, `at most 2 analytics queries ran at once, and 2 did (${samples.length} samples of pg_stat_activity)`);
  const short = classOf(sluice, 'default');
  const analyticsWait = classOf(sluice, 'analytics')?.waitP99Ms ?? 0;
  t.ok(
    short?.waitP99Ms !== null && short!.waitP99Ms! < 50,
    `default-class queries waited ${short?.waitP99Ms} ms at p99 for a slot (an analytics release would take up to 500 ms)`,
  );
  t.ok(analyticsWait >= 400, `control: queued analytics queries did wait for their class's slots (p99 ${analyticsWait} ms)`);
  t.equal(analyticsDone, 10, 'every analytics query ran in the end');
});

t.test("a /* sluice:class=analytics */ tag caps a plain client's query the same way", async (t) => {
  const sluice = await startSluice(t, pgServer, ANALYTICS);
  const sql = '/* sluice:class=analytics */ select pg_sleep(0.2)';
  const plain = await Promise.all(Array.from({ length: 6 }, () => connect(t, sluice)));
  const samples = await sampleWhile(sql, Promise.all(plain.map((c) => c.query(sql))));
  t.equal(Math.max(...samples), 2, `tagged queries ran at most 2 at once (${samples.length} samples)`);

  const untagged = 'select pg_sleep(0.2)';
  const control = await sampleWhile(untagged, Promise.all(plain.slice(0, 4).map((c) => c.query(untagged))));
  t.ok(Math.max(...control) > 2, `control: the same clients without the tag ran ${Math.max(...control)} at once`);
});

/** Runs one simple Query that creates a table then sleeps; returns the server-side start and end of its transaction. */
async function ddlWindow(c: pg.Client, table: string): Promise<{ start: number; end: number }> {
  const results = (await c.query(
    `create table ${table} (x int); select extract(epoch from now()) * 1000 as start, pg_sleep(0.3), extract(epoch from clock_timestamp()) * 1000 as "end"`,
  )) as unknown as pg.QueryResult[];
  const row = results[1]!.rows[0];
  return { start: Number(row.start), end: Number(row.end) };
}

const overlap = (a: { start: number; end: number }, b: { start: number; end: number }): boolean => a.start < b.end && b.start < a.end;

t.test('DDL goes to the migration class: two concurrent migrations with limit 1 never overlap', async (t) => {
  await pgServer.query('drop table if exists mig_a, mig_b, mig_c, mig_d');
  const sluice = await startSluice(t, pgServer, { default_pool_size: 4, classes: { migration: { limit: 1 } } });
  const [a, b] = [await connect(t, sluice), await connect(t, sluice)];
  const [x, y] = await Promise.all([ddlWindow(a, 'mig_a'), ddlWindow(b, 'mig_b')]);
  t.notOk(overlap(x, y), `serialized: [${x.start.toFixed(0)}, ${x.end.toFixed(0)}] and [${y.start.toFixed(0)}, ${y.end.toFixed(0)}]`);

  // Control: without a migration class the same two transactions run side by side.
  const open = await startSluice(t, pgServer, { default_pool_size: 4 });
  const [c, d] = [await connect(t, open), await connect(t, open)];
  const [u, v] = await Promise.all([ddlWindow(c, 'mig_c'), ddlWindow(d, 'mig_d')]);
  t.ok(overlap(u, v), 'control: without the class they overlap');
});

/** One alice and one carol client: two tenants. */
async function twoTenants(t: TeardownHost, sluice: TestSluice): Promise<[pg.Client, pg.Client]> {
  const a = new pg.Client(sluice.options('alice'));
  const c = new pg.Client(sluice.options('carol'));
  for (const x of [a, c]) {
    await x.connect();
    t.teardown(() => x.end().catch(() => undefined));
  }
  return [a, c];
}

t.test('a class total_limit caps it across tenants; a per-tenant limit does not', async (t) => {
  await pgServer.query('drop table if exists mig_e, mig_f, mig_g, mig_h');
  const base = { max_server_connections: 4, default_pool_size: 4 };
  const [a, c] = await twoTenants(t, await startSluice(t, pgServer, { ...base, classes: { migration: { total_limit: 1 } } }));
  const [x, y] = await Promise.all([ddlWindow(a, 'mig_e'), ddlWindow(c, 'mig_f')]);
  t.notOk(overlap(x, y), 'alice and carol are separate tenants, yet their migrations ran one at a time');

  const [a2, c2] = await twoTenants(t, await startSluice(t, pgServer, { ...base, classes: { migration: { limit: 1 } } }));
  const [u, v] = await Promise.all([ddlWindow(a2, 'mig_g'), ddlWindow(c2, 'mig_h')]);
  t.ok(overlap(u, v), 'control: with limit 1 per tenant, two tenants migrate side by side');
});
