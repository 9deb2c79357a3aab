// Proves on real Postgres that pools sharing a budget never open more server connections than its slots (first logins included), and that a slot hog does not churn the quiet role's logins.
import pg from 'pg';
import t from 'tap';
import { startTestPostgres } from '../helpers/postgres.js';
import { startSluice } from '../helpers/sluice.js';

const pgServer = await startTestPostgres(t);

/** Backends Sluice has open to database app, as Postgres sees them. */
async function backends(): Promise<number> {
  const [{ n }] = await pgServer.query(
    `select count(*)::int as n from pg_stat_activity where datname = 'app' and usename in ('alice', 'bob', 'carol', 'plainuser')`,
  );
  return n;
}

/** Logins Postgres has accepted into database app so far. */
async function sessions(): Promise<number> {
  const [{ n }] = await pgServer.query(`select sessions::int as n from pg_stat_database where datname = 'app'`);
  return n;
}

t.test('four roles over a budget of 2: never more than 2 backends, and every client completes', async (t) => {
  const sluice = await startSluice(t, pgServer, { max_server_connections: 2, default_pool_size: 5, query_wait_timeout: 20 });
  let peak = 0;
  let sampling = true;
  const sampler = (async () => {
    while (sampling) {
      peak = Math.max(peak, await backends());
      await new Promise((r) => setTimeout(r, 10));
    }
  })();
  const users = ['alice', 'bob', 'carol', 'plainuser'] as const;
  const results = await Promise.all(
    users.flatMap((u) =>
      [0, 1, 2].map(async (i) => {
        const c = new pg.Client(sluice.options(u));
        await c.connect();
        try {
          let sum = 0;
          for (let k = 0; k < 5; k++) sum += (await c.query('select $1::int as v from pg_sleep(0.005)', [i])).rows[0].v;
          return sum;
        } finally {
          await c.end();
        }
      }),
    ),
  );
  sampling = false;
  await sampler;
  t.same(
    results,
    users.flatMap(() => [0, 5, 10]),
    'all twelve clients ran all their queries',
  );
  t.ok(peak <= 2, `backends never exceeded the budget (peak ${peak})`);
  t.ok(peak >= 1, 'the sampler saw the backends');
  const tally = [...sluice.pooler.pools.values()][0]!.tally.conns;
  t.ok(tally <= 2, `Sluice's own tally stays within the slots (${tally})`);
});

t.test('a slot hog beside a quiet role: the quiet role keeps its warm connection, logins do not churn', async (t) => {
  const sluice = await startSluice(t, pgServer, {
    max_server_connections: 6,
    default_pool_size: 6,
    query_wait_timeout: 20,
    scheduler: { mode: 'fair' },
  });
  const hog = await Promise.all(
    Array.from({ length: 20 }, async () => {
      const c = new pg.Client(sluice.options('alice'));
      await c.connect();
      return c;
    }),
  );
  const quiet = new pg.Client(sluice.options('carol'));
  await quiet.connect();
  t.teardown(() => Promise.all([...hog, quiet].map((c) => c.end().catch(() => undefined))));
  let running = true;
  const loops = hog.map(async (c) => {
    while (running) await c.query('select pg_sleep(0.02)');
  });
  await quiet.query('select 1'); // the quiet role's connection exists and is warm
  await new Promise((r) => setTimeout(r, 300));
  const before = await sessions();
  const evicted: string[] = [];
  const observer = sluice.pooler.scheduler.settings.observer!;
  const evict = observer.evicted.bind(observer);
  observer.evicted = (pool: string) => {
    evicted.push(pool);
    evict(pool);
  };
  const evictedBefore = sluice.pooler.scheduler.snapshots().get('app')!;
  for (let i = 0; i < 100; i++) {
    await quiet.query('select 1');
    await new Promise((r) => setTimeout(r, 5));
  }
  const logins = (await sessions()) - before;
  running = false;
  await Promise.all(loops);
  t.ok(evictedBefore.held > 0, 'the hog held slots while the quiet role ran');
  // Before the warm share, each quiet transaction could evict a hog connection and log in again (and back).
  t.ok(evicted.length <= 2, `evictions: ${evicted.join(', ') || 'none'}`);
  t.ok(logins <= 4, `100 quiet transactions beside the hog cost ${logins} server logins`);
  t.ok((await backends()) <= 6, 'and the budget held');
});
