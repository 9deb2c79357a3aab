// Proves reload: new settings apply to the next dispatch without dropping clients, bad configs change nothing, a moved database drains.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import t from 'tap';
import { loadConfigText } from '../../lib/config/load.js';
import { ConfigError } from '../../lib/config/schema.js';
import { startTestPostgres, type TeardownHost, type TestPostgres } from '../helpers/postgres.js';
import { startSluice, type TestSluice } from '../helpers/sluice.js';

async function connect(t: TeardownHost, sluice: TestSluice): Promise<pg.Client> {
  const client = new pg.Client(sluice.options('alice'));
  client.on('error', () => undefined);
  await client.connect();
  t.teardown(() => client.end().catch(() => undefined));
  return client;
}

/** The most connections the app/alice pool held while `work` ran. */
async function poolPeak(sluice: TestSluice, work: () => Promise<unknown>): Promise<number> {
  let peak = 0;
  const watch = setInterval(() => (peak = Math.max(peak, sluice.pooler.pools.get('app\0alice')?.total ?? 0)), 2);
  try {
    await work();
  } finally {
    clearInterval(watch);
  }
  return peak;
}

/** n new clients, each running one short sleep at the same time. */
async function burst(t: TeardownHost, sluice: TestSluice, n: number): Promise<void> {
  const clients = await Promise.all(Array.from({ length: n }, () => connect(t, sluice)));
  await Promise.all(clients.map((c) => c.query('select pg_sleep(0.1)')));
  await Promise.all(clients.map((c) => c.end()));
}

async function backendsOf(server: TestPostgres, user: string): Promise<number> {
  return (await server.query('select count(*)::int as n from pg_stat_activity where usename = $1', [user]))[0].n;
}

async function waitFor(what: string, check: () => Promise<boolean>, timeoutMs = 5000): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!(await check())) {
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

const pg1 = await startTestPostgres(t);

t.test('a new default_pool_size applies to the next dispatch; connected clients keep working', async (t) => {
  const sluice = await startSluice(t, pg1, { default_pool_size: 1 });
  const before = await connect(t, sluice);
  t.same((await before.query('select 1 as n')).rows, [{ n: 1 }]);
  t.equal(await poolPeak(sluice, () => burst(t, sluice, 3)), 1, 'size 1 before the reload');

  const pool = sluice.pooler.pools.get('app\0alice');
  sluice.reload({ default_pool_size: 3 });
  t.equal(sluice.pooler.pools.get('app\0alice'), pool, 'the pool is kept, with new settings');
  t.equal(await poolPeak(sluice, () => burst(t, sluice, 3)), 3, 'size 3 right after the reload');
  t.same((await before.query('select 2 as n')).rows, [{ n: 2 }], 'a client connected before the reload still works');
});

t.test('an invalid config throws ConfigError and the running pooler is untouched', async (t) => {
  const sluice = await startSluice(t, pg1);
  const client = await connect(t, sluice);
  const running = sluice.pooler.config;
  const dir = await mkdtemp(path.join(tmpdir(), 'sluice-reload-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  await writeFile(path.join(dir, 'userlist.txt'), '"alice" "alice-secret"\n');

  const reloadFrom = (yaml: string) => sluice.pooler.reload(loadConfigText(yaml, dir, 'sluice.yaml'));
  const base = `listen_port: 0\nauth_file: userlist.txt\ndatabases:\n  app:\n    host: ${pg1.host}\n`;
  t.throws(() => reloadFrom(`${base}    port: abc\n`), new ConfigError(['databases.app.port: expected integer 1-65535, got "abc"']));
  t.throws(
    () => reloadFrom(`${base}    port: ${pg1.port}\nmin_pool_size: 30\n`),
    new ConfigError(['min_pool_size: 30 exceeds default_pool_size 20']),
  );
  t.throws(() => reloadFrom(`${base}    port: ${pg1.port}\nlisen_port: 1\n`), new ConfigError(['lisen_port: unknown setting']));
  t.throws(() => reloadFrom(`${base}    port: ${pg1.port}\n  app:\n    host: x\n`), ConfigError, 'a YAML error');

  t.equal(sluice.pooler.config, running, 'the running snapshot is still in place');
  t.same((await client.query('select current_user as who')).rows, [{ who: 'alice' }], 'and its client still works');
  const good = loadConfigText(`${base}    port: ${pg1.port}\n`, dir);
  t.equal(good.auth_file, path.join(dir, 'userlist.txt'), 'the same text, made valid, loads (relative paths from baseDir)');
});

t.test("changing a database's port moves new transactions to the new server while the old pool drains", async (t) => {
  const pg2 = await startTestPostgres(t);
  const sluice = await startSluice(t, pg1);
  const portOf = async (c: pg.Client) => Number((await c.query("select current_setting('port') as p")).rows[0].p);
  const moving = await connect(t, sluice);
  const idleSpare = await connect(t, sluice);
  // Two backends on pg1: one will be mid-transaction at the reload, one idle in the pool.
  await Promise.all([moving.query('select pg_sleep(0.1)'), idleSpare.query('select pg_sleep(0.1)')]);
  await waitFor('alice backends on pg1', async () => (await backendsOf(pg1, 'alice')) === 2);
  await moving.query('begin');
  t.equal(await portOf(moving), pg1.port);

  sluice.reload({ databases: { app: { host: pg2.host, port: pg2.port, dbname: 'app' } } });
  await waitFor('the idle pg1 connection to close', async () => (await backendsOf(pg1, 'alice')) === 1);
  t.equal(await portOf(moving), pg1.port, 'the open transaction stays on the old server');
  const fresh = await connect(t, sluice);
  t.equal(await portOf(fresh), pg2.port, 'a new client goes to the new server');
  await moving.query('commit');
  await waitFor('the old pool to drain', async () => (await backendsOf(pg1, 'alice')) === 0);
  t.equal(await portOf(moving), pg2.port, "the moved client's next transaction goes to the new server");
  t.equal(await portOf(idleSpare), pg2.port, 'as does the next transaction of a client that was idle');
  t.equal(await backendsOf(pg1, 'alice'), 0, 'nothing went back to the old server');
});

t.test('a smaller pool size closes the surplus idle connections at once, and busy ones as they come back', async (t) => {
  const sluice = await startSluice(t, pg1, { default_pool_size: 20 });
  await waitFor('no alice backends left by earlier tests', async () => (await backendsOf(pg1, 'alice')) === 0);
  const clients = await Promise.all(Array.from({ length: 20 }, () => connect(t, sluice)));
  // Twenty open transactions hold twenty server connections; fifteen then end, and their connections idle.
  await Promise.all(clients.map((c) => c.query('begin')));
  t.equal(await backendsOf(pg1, 'alice'), 20, 'one backend per open transaction');
  const busy = clients.slice(0, 5);
  await Promise.all(clients.slice(5).map((c) => c.query('commit')));

  sluice.reload({ default_pool_size: 2 });
  await waitFor('the 15 idle surplus backends to close', async () => (await backendsOf(pg1, 'alice')) === 5);
  t.equal(sluice.pooler.pools.get('app\0alice')?.idle.size, 0, 'no idle connection is kept above the new size');
  await Promise.all(busy.map((c) => c.query('commit')));
  await waitFor('the busy surplus to close as it came back', async () => (await backendsOf(pg1, 'alice')) === 2);
  t.equal(sluice.pooler.pools.get('app\0alice')?.total, 2, 'the pool holds its new size');
  t.same((await clients[19].query('select 1 as n')).rows, [{ n: 1 }], 'clients keep working on the smaller pool');
});

t.test('a smaller max_server_connections closes the idle connections above the new budget at once', async (t) => {
  const sluice = await startSluice(t, pg1, { default_pool_size: 10, max_server_connections: 10 });
  await waitFor('no alice backends left by earlier tests', async () => (await backendsOf(pg1, 'alice')) === 0);
  const clients = await Promise.all(Array.from({ length: 10 }, () => connect(t, sluice)));
  await Promise.all(clients.map((c) => c.query('begin')));
  t.equal(await backendsOf(pg1, 'alice'), 10, 'one backend per open transaction');
  await Promise.all(clients.map((c) => c.query('commit')));

  sluice.reload({ max_server_connections: 3 });
  await waitFor('the budget to keep 3 backends', async () => (await backendsOf(pg1, 'alice')) === 3);
  t.equal(sluice.pooler.pools.get('app\0alice')?.total, 3, 'the pool holds what the budget allows');
  const rows = await Promise.all(clients.map(async (c) => (await c.query('select 1 as n')).rows[0].n));
  t.equal(rows.length, 10, 'every client still runs its transactions');
  t.equal(await backendsOf(pg1, 'alice'), 3, 'within the budget');
});
