// Proves issue 16 on real Postgres: under the defaults plus tenants, an untagged CPU-heavy statement is learned as long and held by the adaptive limit.
import pg from 'pg';
import t from 'tap';
import { startTestPostgres, type TeardownHost } from '../helpers/postgres.js';
import { startSluice, type TestSluice } from '../helpers/sluice.js';
import { consoleClient } from '../helpers/console.js';

const pgServer = await startTestPostgres(t);

/** Pure CPU in one backend, no table; nothing tags it. A dozen at once on a small machine each take far over 0.1 s. */
const HOG = 'select count(*) from generate_series(1, 1000000)';
const SLOTS = 12;

async function clients(t: TeardownHost, sluice: TestSluice, user: 'alice' | 'carol', n: number): Promise<pg.Client[]> {
  return Promise.all(
    Array.from({ length: n }, async () => {
      const c = new pg.Client(sluice.options(user));
      c.on('error', () => undefined);
      await c.connect();
      t.teardown(() => c.end().catch(() => undefined));
      return c;
    }),
  );
}

async function until<T>(what: string, check: () => Promise<T | null>, timeoutMs = 30_000): Promise<T> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const found = await check();
    if (found !== null) return found;
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

t.test('defaults plus tenants: an untagged CPU hog is learned as long, elastic, and limited below the budget', async (t) => {
  // What a new user writes: a shared budget and tenants of equal weight; no classes, rules or scheduler settings.
  const sluice = await startSluice(t, pgServer, {
    admin_users: ['alice'],
    max_server_connections: SLOTS,
    default_pool_size: SLOTS,
    tenants: { alice: { weight: 1 }, carol: { weight: 1 } },
  });
  let stop = false;
  t.teardown(() => void (stop = true));
  const hog = (await clients(t, sluice, 'carol', 2 * SLOTS)).map(async (c) => {
    while (!stop) await c.query(HOG).catch(() => undefined);
  });
  // The victim: cheap queries, whose server-side latency is the adaptive limit's signal.
  const [victim] = await clients(t, sluice, 'alice', 1);
  const quiet = (async () => {
    while (!stop) {
      await victim!.query('select 1');
      await new Promise((r) => setTimeout(r, 10));
    }
  })();
  const admin = await consoleClient(t, sluice);

  // Learned: carol's long class appears in SHOW CLASSES, elastic, listing the hog's shape.
  const row = await until('the hog to be learned as long', async () => {
    const rows = (await admin.query('SHOW CLASSES')).rows;
    return rows.find((r) => r.tenant === 'carol' && r.class === 'long' && r.learned_long !== null) ?? null;
  });
  t.equal(row.lane, 'long');
  t.equal(row.elastic, 1, 'the learned class is elastic by default');
  t.match(row.learned_long, /count\(\*\) from generate_series\(\?, \?\)/, `its shape is listed: ${row.learned_long}`);

  // Limited: with its queue full, the hog holds no more slots than the adaptive limit gives elastic work,
  // and that limit is below what the headroom alone would leave it.
  const limited = await until('the hog to be queued at the adaptive limit', async () => {
    const rows = (await admin.query('SHOW CLASSES')).rows;
    const r = rows.find((x) => x.tenant === 'carol' && x.class === 'long');
    return r && r.queued > 0 && r.elastic_slots !== null && r.held >= 1 && r.held <= r.elastic_slots && r.elastic_slots < SLOTS - 1
      ? r
      : null;
  });
  t.ok(
    limited.elastic_slots < SLOTS - 1,
    `elastic slots ${limited.elastic_slots} of ${SLOTS}, held ${limited.held}, queued ${limited.queued}`,
  );
  t.type(limited.elastic_own_limit, 'number', 'elastic work’s own limit is shown');
  t.type(limited.elastic_latency_limit, 'number', 'and the latency-sensitive one');

  const text = await sluice.pooler.metrics.scrape();
  t.match(text, /^sluice_learned_long_shapes [1-9]/m, 'the metric counts the learned shape');
  t.match(text, /^sluice_adaptive_elastic_slots\{budget="app",limit="effective"\} \d/m, 'the effective elastic budget is a metric');
  t.match(text, /^sluice_adaptive_elastic_slots\{budget="app",limit="own"\} /m);
  stop = true;
  await Promise.all([...hog, quiet]);
});

t.test('with long_threshold 0 and adaptive_limit false the same hog stays in default and unlimited', async (t) => {
  const sluice = await startSluice(t, pgServer, {
    admin_users: ['alice'],
    max_server_connections: SLOTS,
    default_pool_size: SLOTS,
    scheduler: { long_threshold: 0, adaptive_limit: false },
    tenants: { alice: { weight: 1 }, carol: { weight: 1 } },
  });
  const hogs = await clients(t, sluice, 'carol', 4);
  for (let i = 0; i < 2; i++) await Promise.all(hogs.map((c) => c.query(HOG)));
  const admin = await consoleClient(t, sluice);
  const rows = (await admin.query('SHOW CLASSES')).rows.filter((r) => r.tenant === 'carol');
  t.same(
    rows.map((r) => r.class),
    ['default'],
    'nothing learned',
  );
  t.equal(rows[0].elastic_slots, null, 'no adaptive limit');
  t.equal(sluice.pooler.scheduler.snapshots().get('app')!.adaptive, undefined);
});
