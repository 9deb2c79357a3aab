// Proves pgbench (simple, extended, prepared; select-only and TPC-B) runs through Sluice with zero failures and never more server connections than the pool size.
import t, { type Test } from 'tap';
import pgLib from 'pg';
import { startTestPostgres, APP_DB } from '../helpers/postgres.js';
import { startSluice, type TestSluice } from '../helpers/sluice.js';
import { run, type RunResult } from '../helpers/run.js';

const pg = await startTestPostgres(t);
await pg.pgbenchInit(1);

const USER = 'alice';
const BACKENDS_SQL = `select count(*)::int as n from pg_stat_activity where usename = $1 and backend_type = 'client backend'`;

interface Bench {
  result: RunResult;
  processed: number;
  failed: number;
  /** Most server connections seen at once: by Sluice's pool, and by Postgres itself. */
  peakPool: number;
  peakBackends: number;
}

async function countBackends(admin: pgLib.Client): Promise<number> {
  return (await admin.query(BACKENDS_SQL, [USER])).rows[0].n;
}

/** The previous subtest's Sluice closed its server connections; wait until Postgres has seen them go. */
async function waitForNoBackends(admin: pgLib.Client): Promise<void> {
  const deadline = Date.now() + 10_000;
  while ((await countBackends(admin)) > 0) {
    if (Date.now() > deadline) throw new Error(`backends of ${USER} from an earlier test are still open`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

function number(out: string, label: string): number {
  const m = new RegExp(`^${label}: (\\d+)`, 'm').exec(out);
  if (!m) throw new Error(`pgbench output has no "${label}":\n${out}`);
  return Number(m[1]);
}

/** Runs pgbench through Sluice while sampling how many server connections exist. */
async function pgbench(t: Test, sluice: TestSluice, args: string[]): Promise<Bench> {
  const admin = new pgLib.Client({ connectionString: pg.url() });
  await admin.connect();
  t.teardown(() => admin.end());
  await waitForNoBackends(admin);
  let finished = false;
  const running = run('pgbench', ['-n', '-T', '3', '-j', '2', ...args, APP_DB], { env: sluice.env(USER), timeoutMs: 60_000 });
  void running.finally(() => (finished = true));
  let peakPool = 0;
  let peakBackends = 0;
  while (!finished) {
    peakPool = Math.max(peakPool, sluice.pooler.pools.get(`${APP_DB}\0${USER}`)?.total ?? 0);
    peakBackends = Math.max(peakBackends, await countBackends(admin));
    await new Promise((r) => setTimeout(r, 25));
  }
  const result = await running;
  t.equal(result.code, 0, `pgbench exit code (stderr: ${result.err.slice(-2000)})`);
  const bench = {
    result,
    processed: number(result.out, 'number of transactions actually processed'),
    failed: number(result.out, 'number of failed transactions'),
    peakPool,
    peakBackends,
  };
  t.equal(bench.failed, 0, 'number of failed transactions: 0');
  t.ok(bench.processed > 0, `transactions processed: ${bench.processed}`);
  return bench;
}

function assertWithinPool(t: Test, b: Bench, size: number): void {
  t.ok(b.peakPool > 0 && b.peakPool <= size, `Sluice's pool held at most ${size} (peak ${b.peakPool})`);
  t.ok(b.peakBackends > 0 && b.peakBackends <= size, `Postgres saw at most ${size} backends (peak ${b.peakBackends})`);
}

t.test('Postgres allows enough connections for the 200-client run', async (t) => {
  const [{ max_connections: max }] = await pg.query('show max_connections');
  t.ok(Number(max) >= 200, `max_connections is ${max}`);
});

t.test('select-only, simple protocol: 50 clients over a pool of 5', async (t) => {
  const sluice = await startSluice(t, pg, { default_pool_size: 5 });
  const b = await pgbench(t, sluice, ['-S', '-M', 'simple', '-c', '50']);
  t.match(b.result.out, /query mode: simple/);
  t.match(b.result.out, /number of clients: 50/);
  assertWithinPool(t, b, 5);
});

t.test('select-only, extended protocol: 50 clients over a pool of 5', async (t) => {
  const sluice = await startSluice(t, pg, { default_pool_size: 5 });
  const b = await pgbench(t, sluice, ['-S', '-M', 'extended', '-c', '50']);
  t.match(b.result.out, /query mode: extended/);
  assertWithinPool(t, b, 5);
});

t.test('select-only, extended protocol: 200 clients over a pool of 20', async (t) => {
  const sluice = await startSluice(t, pg, { default_pool_size: 20 });
  const b = await pgbench(t, sluice, ['-S', '-M', 'extended', '-c', '200']);
  t.match(b.result.out, /number of clients: 200/);
  assertWithinPool(t, b, 20);
});

t.test('TPC-B-like default script (BEGIN ... END): 10 clients over a pool of 5', async (t) => {
  const sluice = await startSluice(t, pg, { default_pool_size: 5 });
  const [{ n: before }] = await pg.query('select count(*)::int as n from pgbench_history');
  const b = await pgbench(t, sluice, ['-c', '10']);
  t.match(b.result.out, /TPC-B \(sort of\)/);
  const [{ n: after }] = await pg.query('select count(*)::int as n from pgbench_history');
  t.equal(after - before, b.processed, 'every committed transaction left exactly one history row');
  assertWithinPool(t, b, 5);
});

t.test('prepared statements in session mode: 10 clients over a pool of 10', async (t) => {
  const sluice = await startSluice(t, pg, { default_pool_size: 10, pool_mode: 'session' });
  const b = await pgbench(t, sluice, ['-S', '-M', 'prepared', '-c', '10']);
  t.match(b.result.out, /query mode: prepared/);
  assertWithinPool(t, b, 10);
});
