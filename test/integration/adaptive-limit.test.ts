// Proves CPU protection end to end: the server-side latency of ordinary work sizes the slots elastic classes may use.
import pg from 'pg';
import t from 'tap';
import { startTestPostgres, type TeardownHost } from '../helpers/postgres.js';
import { startSluice, type TestSluice } from '../helpers/sluice.js';

const pgServer = await startTestPostgres(t);

async function clients(t: TeardownHost, sluice: TestSluice, user: 'alice' | 'carol', n: number): Promise<pg.Client[]> {
  return Promise.all(Array.from({ length: n }, async () => {
    const c = new pg.Client(sluice.options(user));
    c.on('error', () => undefined);
    await c.connect();
    t.teardown(() => c.end().catch(() => undefined));
    return c;
  }));
}

async function until(what: string, check: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!check()) {
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

t.test('elastic analytics grow into idle capacity, and shrink when ordinary queries slow down on the server', async (t) => {
  const sluice = await startSluice(t, pgServer, {
    max_server_connections: 12,
    default_pool_size: 12,
    scheduler: { adaptive_limit: true, adaptive_min_slots: 1 },
    classes: { analytics: { elastic: true } },
  });
  const elastic = () => sluice.pooler.scheduler.snapshots().get('app')!;
  let stop = false;
  // The victim's server-side latency is what the test controls: a sleep it chooses, not CPU it cannot.
  let victimSleep = 0.002;
  let thinkMs = 0;
  const victims = (await clients(t, sluice, 'alice', 2)).map(async (c) => {
    while (!stop) {
      if (thinkMs === 0) {
        await c.query('select pg_sleep($1)', [victimSleep]);
        continue;
      }
      // A transaction that idles in the client: long holds, fast server.
      await c.query('begin');
      await c.query('select pg_sleep($1)', [victimSleep]);
      await new Promise((r) => setTimeout(r, thinkMs));
      await c.query('commit');
    }
  });
  const analytics = (await clients(t, sluice, 'carol', 12)).map(async (c) => {
    while (!stop) await c.query('/* sluice:class=analytics */ select pg_sleep(0.03)');
  });
  t.teardown(() => void (stop = true));

  /** The elastic budget averaged over a phase, after a settling second. */
  const phaseMean = async (): Promise<number> => {
    await new Promise((r) => setTimeout(r, 1000));
    let sum = 0;
    let n = 0;
    for (const end = performance.now() + 1500; performance.now() < end; n++) {
      sum += elastic().elasticSlots;
      await new Promise((r) => setTimeout(r, 25));
    }
    return sum / n;
  };

  await until('the elastic budget to grow while the victim is fast', () => elastic().elasticSlots >= 7);
  t.ok(elastic().elasticHeld >= 6, `analytics use the room they were given (${elastic().elasticHeld} held)`);
  const fast = await phaseMean();

  victimSleep = 0.04;
  const slow = await phaseMean();
  t.ok(slow < fast - 2, `a 20x slower server squeezes the budget: ${fast.toFixed(1)} → ${slow.toFixed(1)} slots`);
  t.ok(elastic().elasticSlots >= 1, 'never below adaptive_min_slots');

  // Client think time inside transactions makes holds 20x longer too, but it is not server latency.
  victimSleep = 0.002;
  thinkMs = 40;
  const think = await phaseMean();
  t.ok(think > slow + 2, `idle-in-transaction time does not squeeze it: ${think.toFixed(1)} slots against ${slow.toFixed(1)}`);
  stop = true;
  await Promise.all([...victims, ...analytics]);
  t.pass('every client finished its last query');
});

t.test('without adaptive_limit elastic classes are bound only by their limits and the headroom', async (t) => {
  const sluice = await startSluice(t, pgServer, {
    max_server_connections: 6,
    default_pool_size: 6,
    classes: { analytics: { elastic: true } },
  });
  const snap = () => sluice.pooler.scheduler.snapshots().get('app')!;
  const work = (await clients(t, sluice, 'carol', 8)).map((c) => c.query('/* sluice:class=analytics */ select pg_sleep(0.3)'));
  await until('analytics to fill the slots the headroom leaves', () => snap().elasticHeld === 6 - snap().headroomRequired);
  t.equal(snap().elasticSlots, Infinity, 'no adaptive budget');
  await Promise.all(work);
});
