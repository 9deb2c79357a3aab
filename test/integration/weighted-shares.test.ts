// Proves on real Postgres that three backlogged roles with weights 1:2:4 get their weighted share of a shared budget, even after one role took every connection first.
import pg from 'pg';
import t from 'tap';
import { startTestPostgres } from '../helpers/postgres.js';
import { startSluice, type TestSluice } from '../helpers/sluice.js';

/** 14 slots at 1:2:4 is 2 / 4 / 8 connections. */
const SLOTS = 14;
const TENANTS = [
  { user: 'alice', weight: 1 },
  { user: 'bob', weight: 2 },
  { user: 'carol', weight: 4 },
] as const;
const CLIENTS = 16;
const SQL = 'select pg_sleep(0.01)';

const pgServer = await startTestPostgres(t);

/** Backends per role in database app, as Postgres sees them. */
async function backends(): Promise<Record<string, number>> {
  const rows = await pgServer.query(
    `select usename, count(*)::int as n from pg_stat_activity where datname = 'app' and usename in ('alice', 'bob', 'carol') group by usename`);
  return Object.fromEntries(rows.map((r: { usename: string; n: number }) => [r.usename, r.n]));
}

async function sessions(): Promise<number> {
  const [{ n }] = await pgServer.query(`select sessions::int as n from pg_stat_database where datname = 'app'`);
  return n;
}

/** Slot-milliseconds each tenant has held so far, from the scheduler's own accounting. */
function slotMs(sluice: TestSluice): Record<string, number> {
  const snap = sluice.pooler.scheduler.snapshots().get('app')!;
  return Object.fromEntries(snap.tenants.map((x) => [x.tenant, x.slotMs]));
}

/** `n` clients of a role running SQL back to back until stopped. */
async function backlog(sluice: TestSluice, user: string, n: number): Promise<{ stop(): Promise<void> }> {
  const conns = await Promise.all(Array.from({ length: n }, async () => {
    const c = new pg.Client(sluice.options(user as 'alice'));
    c.on('error', () => undefined);
    await c.connect();
    return c;
  }));
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

t.test('1:2:4 over 14 slots: connections move to about 2 / 4 / 8 and slot time follows the weights', async (t) => {
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
  await sleep(500);
  t.equal((await backends()).alice, SLOTS, 'alone, alice holds all 14 connections');
  loads.push(await backlog(sluice, 'bob', CLIENTS), await backlog(sluice, 'carol', CLIENTS));
  // Time to converge and to pay back alice's head start, then measure.
  await sleep(1500);
  const before = slotMs(sluice);
  const loginsBefore = await sessions();
  const startedAt = performance.now();
  await sleep(3000);
  const after = slotMs(sluice);
  const seconds = (performance.now() - startedAt) / 1000;
  const logins = (await sessions()) - loginsBefore;
  const counts = await backends();
  await Promise.all(loads.splice(0).map((l) => l.stop()));

  const used = TENANTS.map((x) => after[x.user]! - before[x.user]!);
  const total = used.reduce((a, b) => a + b, 0);
  TENANTS.forEach((x, i) => {
    const share = used[i]! / total;
    const entitled = x.weight / 7;
    t.ok(Math.abs(share / entitled - 1) <= 0.1, `${x.user}: ${(100 * share).toFixed(1)}% of slot time, entitled ${(100 * entitled).toFixed(1)}%`);
    const want = (SLOTS * x.weight) / 7;
    t.ok(Math.abs((counts[x.user] ?? 0) - want) <= 1, `${x.user}: ${counts[x.user] ?? 0} backends, entitled ${want}`);
  });
  t.ok(total >= 0.85 * SLOTS * seconds * 1000, `the budget stayed busy: ${(total / seconds / 1000).toFixed(1)} of ${SLOTS} slots`);
  t.ok(logins / seconds <= 5, `connections settled: ${(logins / seconds).toFixed(1)} logins/s`);
});
