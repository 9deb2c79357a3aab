// Proves CPU protection end to end: the server-side latency of ordinary work sizes the slots elastic classes may use.
import pg from 'pg';
import t from 'tap';
import { startTestPostgres, type TeardownHost } from '../helpers/postgres.js';
import { startSluice, type TestSluice } from '../helpers/sluice.js';

const pgServer = await startTestPostgres(t);

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

async function until(what: string, check: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!check()) {
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

t.test('elastic analytics take idle capacity, and give it up when ordinary queries slow down on the server', async (t) => {
  const sluice = await startSluice(t, pgServer, {
    max_server_connections: 12,
    default_pool_size: 12,
    scheduler: { adaptive_limit: true, adaptive_min_slots: 1 },
    classes: { analytics: { elastic: true } },
  });
  const elastic = () => sluice.pooler.scheduler.snapshots().get('app')!;
  let stop = false;
  t.teardown(() => void (stop = true));
  const analytics = (await clients(t, sluice, 'carol', 12)).map(async (c) => {
    while (!stop) await c.query('/* sluice:class=analytics */ select pg_sleep(0.03)');
  });
  await until('the elastic budget to reach its maximum while nothing else runs', () => elastic().elasticSlots >= 11);
  // Held slots at one instant race the clients' own turnaround on a loaded machine: wait for the peak instead.
  let held = 0;
  await until('analytics to hold most of the room', () => (held = Math.max(held, elastic().elasticHeld)) >= 6);
  t.ok(held >= 6, `analytics use the room (${held} held at once)`);

  // What feeds the limit: one sample per request, measured from send to ReadyForQuery.
  const samples: Array<{ tenant: string; ms: number }> = [];
  const scheduler = sluice.pooler.scheduler;
  const original = scheduler.serverLatency.bind(scheduler);
  scheduler.serverLatency = (w, ms, shape) => {
    samples.push({ tenant: (w as unknown as { ident: { tenant: string } }).ident.tenant, ms });
    original(w, ms, shape);
  };
  const victims = await clients(t, sluice, 'alice', 2);
  // Transactions that idle 150 ms in the client between statements: long holds, quick server work.
  await Promise.all(
    victims.map(async (c) => {
      for (let i = 0; i < 4; i++) {
        await c.query('begin');
        await c.query('select pg_sleep(0.005)');
        await new Promise((r) => setTimeout(r, 150));
        await c.query('commit');
      }
    }),
  );
  const mine = samples
    .filter((s) => s.tenant === 'alice')
    .map((s) => s.ms)
    .sort((a, b) => a - b);
  t.ok(mine.length >= 24, `one sample per request (${mine.length} for 24 requests)`);
  t.ok(
    mine[Math.floor(mine.length / 2)]! < 100,
    `client think time is not server latency (median ${mine[Math.floor(mine.length / 2)]} ms)`,
  );

  // Now the server itself is slow for the victim's queries.
  let slowDone = false;
  const slow = [...victims, ...(await clients(t, sluice, 'alice', 4))].map(async (c) => {
    while (!slowDone) await c.query('select pg_sleep(0.2)');
  });
  await until('the elastic budget to shrink under a 40x slower server', () => elastic().elasticSlots <= 5, 30_000);
  t.ok(elastic().elasticSlots >= 1, 'never below adaptive_min_slots');
  slowDone = true;
  stop = true;
  await Promise.all([...slow, ...analytics]);
});

t.test('CPU-heavy elastic work alone is held near what the cores run, by its own slowdown', async (t) => {
  const sluice = await startSluice(t, pgServer, {
    max_server_connections: 12,
    default_pool_size: 12,
    scheduler: { adaptive_limit: true, adaptive_min_slots: 1 },
    classes: { analytics: { elastic: true } },
  });
  const snap = () => sluice.pooler.scheduler.snapshots().get('app')!;
  let stop = false;
  t.teardown(() => void (stop = true));
  // Pure CPU in one backend (tens of ms); a dozen at once on a small machine each take several times as long.
  const work = (await clients(t, sluice, 'carol', 12)).map(async (c) => {
    while (!stop) await c.query('/* sluice:class=analytics */ select count(*) from generate_series(1, 200000) g where g % 7 = 3');
  });
  let peak = 0;
  const deadline = performance.now() + 8000;
  while (performance.now() < deadline) {
    peak = Math.max(peak, snap().elasticHeld);
    await new Promise((r) => setTimeout(r, 25));
  }
  const slots = snap().elasticSlots;
  stop = true;
  await Promise.all(work);
  t.ok(peak >= 2, `elastic work ran concurrently (${peak} at once)`);
  t.ok(slots <= 6, `its own slowdown holds it at ${slots} of 11 slots, with nothing else running`);
});

t.test('without adaptive_limit elastic classes are bound only by their limits and the headroom', async (t) => {
  const sluice = await startSluice(t, pgServer, {
    max_server_connections: 6,
    default_pool_size: 6,
    scheduler: { adaptive_limit: false },
    classes: { analytics: { elastic: true } },
  });
  const snap = () => sluice.pooler.scheduler.snapshots().get('app')!;
  const work = (await clients(t, sluice, 'carol', 8)).map((c) => c.query('/* sluice:class=analytics */ select pg_sleep(0.3)'));
  await until('analytics to fill the slots the headroom leaves', () => snap().elasticHeld === 6 - snap().headroomRequired);
  t.equal(snap().elasticSlots, Infinity, 'no adaptive budget');
  await Promise.all(work);
});
