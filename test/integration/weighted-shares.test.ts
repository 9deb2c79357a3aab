// Proves on real Postgres that three backlogged roles with weights 1:2:4 get their weighted share of a shared budget's connections, even after one role took them all first.
import pg from 'pg';
import t from 'tap';
import { startTestPostgres } from '../helpers/postgres.js';
import { startSluice, type TestSluice } from '../helpers/sluice.js';

/** 20 slots at 1:2:4 is 2.86 / 5.71 / 11.43 connections: no whole split is within 5%, so connections must move. */
const SLOTS = 20;
const TENANTS = [
  { user: 'alice', weight: 1 },
  { user: 'bob', weight: 2 },
  { user: 'carol', weight: 4 },
] as const;
const CLIENTS = 24;
const SQL = 'select pg_sleep(0.01)';

const pgServer = await startTestPostgres(t);

/** Backends per role in database app, as Postgres sees them. */
async function backends(): Promise<Record<string, number>> {
  const rows = await pgServer.query(
    `select usename, count(*)::int as n from pg_stat_activity where datname = 'app' and usename in ('alice', 'bob', 'carol') group by usename`,
  );
  return Object.fromEntries(rows.map((r: { usename: string; n: number }) => [r.usename, r.n]));
}

/** Counts the connections Sluice closes to open one for another pool (each costs a server login). */
function countEvictions(sluice: TestSluice): { readonly n: number } {
  const count = { n: 0 };
  const observer = sluice.pooler.scheduler.settings.observer!;
  const evicted = observer.evicted.bind(observer);
  observer.evicted = (pool: string) => {
    count.n++;
    evicted(pool);
  };
  return count;
}

/**
 * Backends inside a transaction per role, summed over samples every 20 ms until stopped: Postgres' own
 * view of who uses the budget (the scheduler's slot time also counts grants still waiting for a login).
 */
function sampleBusy(): { stop(): Promise<{ busy: Record<string, number>; samples: number }> } {
  const busy: Record<string, number> = { alice: 0, bob: 0, carol: 0 };
  let samples = 0;
  let running = true;
  const loop = (async () => {
    while (running) {
      const rows = await pgServer.query(`select usename, count(*)::int as n from pg_stat_activity
        where datname = 'app' and state in ('active', 'idle in transaction') and usename in ('alice', 'bob', 'carol') group by usename`);
      for (const r of rows as Array<{ usename: string; n: number }>) busy[r.usename]! += r.n;
      samples++;
      await sleep(20);
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      return { busy, samples };
    },
  };
}

/** `n` clients of a role running SQL back to back until stopped. */
async function backlog(sluice: TestSluice, user: string, n: number): Promise<{ stop(): Promise<void> }> {
  const conns = await Promise.all(
    Array.from({ length: n }, async () => {
      const c = new pg.Client(sluice.options(user as 'alice'));
      c.on('error', () => undefined);
      await c.connect();
      return c;
    }),
  );
  let running = true;
  const loops = conns.map(async (c) => {
    while (running) await c.query(SQL);
  });
  return {
    async stop() {
      running = false;
      await Promise.all(loops);
      await Promise.all(conns.map((c) => c.end().catch(() => undefined)));
    },
  };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

t.test('1:2:4 over 20 slots: connections move to about 3 / 6 / 11 and busy backends follow the weights', async (t) => {
  const sluice = await startSluice(t, pgServer, {
    max_server_connections: SLOTS,
    default_pool_size: SLOTS,
    query_wait_timeout: 30,
    tenant_key: 'user',
    scheduler: { mode: 'fair' },
    tenants: Object.fromEntries(TENANTS.map((x) => [x.user, { weight: x.weight }])),
  });
  // alice alone first: she takes every connection of the budget.
  const loads = [await backlog(sluice, 'alice', CLIENTS)];
  t.teardown(() => Promise.all(loads.map((l) => l.stop())));
  for (const deadline = performance.now() + 10_000; (await backends()).alice !== SLOTS && performance.now() < deadline; ) await sleep(50);
  t.equal((await backends()).alice, SLOTS, `alone, alice holds all ${SLOTS} connections`);
  loads.push(await backlog(sluice, 'bob', CLIENTS), await backlog(sluice, 'carol', CLIENTS));
  // Time to converge and to pay back alice's head start, then measure.
  await sleep(1500);
  const evictions = countEvictions(sluice);
  const startedAt = performance.now();
  const sampler = sampleBusy();
  await sleep(3000);
  const { busy, samples } = await sampler.stop();
  const seconds = (performance.now() - startedAt) / 1000;
  const logins = evictions.n;
  const counts = await backends();
  await Promise.all(loads.splice(0).map((l) => l.stop()));

  const total = TENANTS.reduce((sum, x) => sum + busy[x.user]!, 0);
  TENANTS.forEach((x) => {
    const share = busy[x.user]! / total;
    const entitled = x.weight / 7;
    t.ok(
      Math.abs(share / entitled - 1) <= 0.1,
      `${x.user}: ${(100 * share).toFixed(1)}% of busy backends, entitled ${(100 * entitled).toFixed(1)}%`,
    );
    const want = (SLOTS * x.weight) / 7;
    t.ok(Math.abs((counts[x.user] ?? 0) - want) <= 1, `${x.user}: ${counts[x.user] ?? 0} backends, entitled ${want}`);
  });
  t.ok(total / samples >= 0.6 * SLOTS, `the budget stayed busy: ${(total / samples).toFixed(1)} of ${SLOTS} backends in a transaction`);
  t.ok(logins / seconds <= 10, `connections settled: ${(logins / seconds).toFixed(1)} moved per second`);
});
