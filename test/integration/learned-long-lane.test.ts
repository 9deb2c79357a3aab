// Proves the learned lane on real Postgres: a statement that keeps holding its slot long moves to the long class by itself.
import pg from 'pg';
import t from 'tap';
import { startTestPostgres } from '../helpers/postgres.js';
import { startSluice } from '../helpers/sluice.js';
import { LaneLearner } from '../../lib/session/classify/lane-learner.js';

const pgServer = await startTestPostgres(t);

async function until(what: string, check: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!check()) {
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function peakActive(sql: string, work: Promise<unknown>): Promise<number> {
  let done = false;
  const finished = work.finally(() => (done = true));
  let peak = 0;
  while (!done) {
    const [{ n }] = await pgServer.query(`select count(*)::int as n from pg_stat_activity where state = 'active' and query = $1`, [sql]);
    peak = Math.max(peak, n);
    await new Promise((r) => setTimeout(r, 10));
  }
  await finished;
  return peak;
}

t.test('slow statements learn their way into the long lane, and its limit then applies; fast ones stay', async (t) => {
  // The long class is the operator's: one at a time. Nothing tags these statements.
  const sluice = await startSluice(t, pgServer, {
    default_pool_size: 4,
    scheduler: { long_threshold: 0.05 },
    classes: { long: { limit: 1, lane: 'long' } },
  });
  const clients = await Promise.all(
    Array.from({ length: 4 }, async () => {
      const c = new pg.Client(sluice.options('alice'));
      await c.connect();
      t.teardown(() => c.end().catch(() => undefined));
      return c;
    }),
  );
  const slow = 'select pg_sleep(0.15)';
  const before = await peakActive(slow, Promise.all(clients.map((c) => c.query(slow))));
  t.ok(before > 1, `before learning the four slow statements ran side by side (${before} at once)`);

  const longClass = () =>
    sluice.pooler.scheduler
      .snapshots()
      .get('app/alice')
      ?.tenants.find((x) => x.tenant === 'alice')
      ?.classes.find((c) => c.cls === 'long');
  // Fingerprints are computed off the relay path, a moment later.
  const key = LaneLearner.keyOf(slow)!;
  await until('the statement to be learned as long', () => sluice.pooler.lanes.isLong(key, 50));
  t.ok(sluice.pooler.lanes.averageMs(key)! >= 150, 'its average hold time is known');

  // Another literal, same statement: the fingerprint ignores constants.
  const slow2 = 'select pg_sleep(0.12)';
  const after = await peakActive(slow2, Promise.all(clients.map((c) => c.query(slow2))));
  t.equal(after, 1, 'learned: the long class limit of 1 now serializes them');
  t.ok((longClass()?.slotMs ?? 0) >= 4 * 100, `the long class was charged their slot time (${longClass()?.slotMs.toFixed(0)} ms)`);
  const defaults = sluice.pooler.scheduler
    .snapshots()
    .get('app/alice')!
    .tenants.find((x) => x.tenant === 'alice')!
    .classes.find((c) => c.cls === 'default')!;
  const fastBefore = defaults.slotMs;
  await clients[2]!.query('select 2');
  const defaultsAfter = sluice.pooler.scheduler
    .snapshots()
    .get('app/alice')!
    .tenants.find((x) => x.tenant === 'alice')!
    .classes.find((c) => c.cls === 'default')!;
  t.ok(defaultsAfter.slotMs > fastBefore, 'a fast statement still runs in the default class');
});

t.test('without long_threshold nothing is learned: no long class, the same statements stay in default', async (t) => {
  const sluice = await startSluice(t, pgServer, { default_pool_size: 2, scheduler: { long_threshold: 0 } });
  const c = new pg.Client(sluice.options('alice'));
  await c.connect();
  t.teardown(() => c.end().catch(() => undefined));
  for (let i = 0; i < 3; i++) await c.query('select pg_sleep(0.15)');
  const classes = sluice.pooler.scheduler
    .snapshots()
    .get('app/alice')!
    .tenants.find((x) => x.tenant === 'alice')!.classes;
  t.same(
    classes.map((k) => k.cls),
    ['default'],
  );
});
