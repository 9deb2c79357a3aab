// Proves pool sizes cap real Postgres backends (default, per user, per database) and pool_mode per database and per user.
import pg from 'pg';
import t from 'tap';
import { startTestPostgres, type TeardownHost } from '../helpers/postgres.js';
import { startSluice, testUsers, type TestSluice } from '../helpers/sluice.js';
import type { Pool } from '../../lib/pool/pool.js';

type Failure = { code?: string; message: string };

const pgServer = await startTestPostgres(t);
// One superuser connection for sampling, so each sample is a single round trip.
const observer = new pg.Client({ connectionString: pgServer.url() });
await observer.connect();
t.teardown(() => observer.end());

/** Tracks the most backends per role Postgres ever showed, and the most connections each Sluice pool ever held. */
function samplePeaks(sluice: TestSluice, roles: string[]) {
  const backends = new Map<string, number>(roles.map((r) => [r, 0]));
  const pools = new Map<string, number>();
  let running = true;
  const watchPools = setInterval(() => {
    for (const p of sluice.pooler.pools.values()) pools.set(p.name, Math.max(pools.get(p.name) ?? 0, p.total));
  }, 2);
  const loop = (async () => {
    while (running) {
      const { rows } = await observer.query(
        'select usename, count(*)::int as n from pg_stat_activity where usename = any($1) group by usename',
        [roles],
      );
      for (const r of rows) backends.set(r.usename, Math.max(backends.get(r.usename) ?? 0, r.n));
    }
  })();
  return {
    backends,
    pools,
    async stop() {
      running = false;
      clearInterval(watchPools);
      await loop;
    },
  };
}

interface Workload {
  user: 'alice' | 'bob' | 'carol' | 'plainuser';
  database?: string;
  clients: number;
  queriesEach: number;
}

/** `clients` concurrent connections, each running `select pg_sleep(0.05)` queriesEach times; resolves to the number that succeeded. */
async function run(sluice: TestSluice, w: Workload): Promise<number> {
  const one = async () => {
    const client = new pg.Client(sluice.options(w.user, w.database));
    client.on('error', () => undefined);
    await client.connect();
    let ok = 0;
    try {
      for (let i = 0; i < w.queriesEach; i++) ok += (await client.query('select pg_sleep(0.05)')).rowCount === 1 ? 1 : 0;
    } finally {
      await client.end();
    }
    return ok;
  };
  const done = await Promise.all(Array.from({ length: w.clients }, one));
  return done.reduce((a, b) => a + b, 0);
}

async function noBackends(roles: string[]): Promise<void> {
  const deadline = performance.now() + 5000;
  for (;;) {
    const { rows } = await observer.query('select count(*)::int as n from pg_stat_activity where usename = any($1)', [roles]);
    if (rows[0].n === 0) return;
    if (performance.now() > deadline) throw new Error(`backends of ${roles.join(', ')} linger`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

t.test('default_pool_size: 2 caps the backends of ten busy clients at two', async (t) => {
  const sluice = await startSluice(t, pgServer, { default_pool_size: 2 });
  await noBackends(['alice']);
  const peaks = samplePeaks(sluice, ['alice']);
  const ok = await run(sluice, { user: 'alice', clients: 10, queriesEach: 3 });
  await peaks.stop();
  t.equal(ok, 30, 'every query succeeded');
  t.ok(peaks.backends.get('alice')! <= 2, `Postgres never saw more than 2 backends (max ${peaks.backends.get('alice')})`);
  t.equal(peaks.pools.get('app/alice'), 2, 'the pool was used up to its size');
});

t.test('users.<name>.pool_size overrides the default for that user only', async (t) => {
  const sluice = await startSluice(t, pgServer, {
    default_pool_size: 3,
    users: { ...testUsers(), bob: { password: 'bob-secret', pool_size: 1 } },
  });
  await noBackends(['bob', 'carol']);
  const peaks = samplePeaks(sluice, ['bob', 'carol']);
  const [bob, carol] = await Promise.all([
    run(sluice, { user: 'bob', clients: 6, queriesEach: 2 }),
    run(sluice, { user: 'carol', clients: 6, queriesEach: 2 }),
  ]);
  await peaks.stop();
  t.same([bob, carol], [12, 12]);
  t.ok(peaks.backends.get('bob')! <= 1, `bob: at most 1 backend (max ${peaks.backends.get('bob')})`);
  t.ok(peaks.backends.get('carol')! <= 3, `carol: at most 3 backends (max ${peaks.backends.get('carol')})`);
  t.same([peaks.pools.get('app/bob'), peaks.pools.get('app/carol')], [1, 3]);
});

t.test('databases.<name>.pool_size overrides the default; a user override beats it', async (t) => {
  const sluice = await startSluice(t, pgServer, {
    default_pool_size: 3,
    databases: {
      app: { host: pgServer.host, port: pgServer.port, dbname: 'app' },
      narrow: { host: pgServer.host, port: pgServer.port, dbname: 'app', pool_size: 1 },
    },
    users: { ...testUsers(), plainuser: { password: 'plain-secret', pool_size: 2 } },
  });
  await noBackends(['alice', 'plainuser']);
  const peaks = samplePeaks(sluice, ['alice', 'plainuser']);
  const done = await Promise.all([
    run(sluice, { user: 'alice', database: 'narrow', clients: 5, queriesEach: 2 }),
    run(sluice, { user: 'alice', database: 'app', clients: 6, queriesEach: 2 }),
    run(sluice, { user: 'plainuser', database: 'narrow', clients: 5, queriesEach: 2 }),
  ]);
  await peaks.stop();
  t.same(done, [10, 12, 10]);
  t.same([peaks.pools.get('narrow/alice'), peaks.pools.get('app/alice'), peaks.pools.get('narrow/plainuser')], [1, 3, 2]);
  t.ok(peaks.backends.get('alice')! <= 4, `alice: at most 1 + 3 backends (max ${peaks.backends.get('alice')})`);
  t.ok(peaks.backends.get('plainuser')! <= 2, `plainuser: at most 2 backends (max ${peaks.backends.get('plainuser')})`);
});

/** Two clients of one pool of size 1: can the second run a query while the first sits idle between transactions? */
async function secondClientWhileFirstIdles(t: TeardownHost, sluice: TestSluice, user: 'alice' | 'bob' | 'carol', database: string) {
  const connect = async () => {
    const c = new pg.Client(sluice.options(user, database));
    c.on('error', () => undefined);
    await c.connect();
    t.teardown(() => c.end().catch(() => undefined));
    return c;
  };
  const first = await connect();
  await first.query('select 1');
  const second = await connect();
  return second.query('select 2 as n').then(
    (r) => r.rows[0].n as number,
    (e: Failure) => e.code,
  );
}

t.test('pool_mode per database and per user', async (t) => {
  const sluice = await startSluice(t, pgServer, {
    default_pool_size: 1,
    query_wait_timeout: 0.3,
    databases: {
      app: { host: pgServer.host, port: pgServer.port, dbname: 'app' },
      sess: { host: pgServer.host, port: pgServer.port, dbname: 'app', pool_mode: 'session' },
    },
    users: {
      ...testUsers(),
      carol: { password: 'carol-secret', pool_mode: 'session' },
      bob: { password: 'bob-secret', pool_mode: 'transaction' },
    },
  });
  t.equal(await secondClientWhileFirstIdles(t, sluice, 'alice', 'app'), 2, 'transaction mode: the idle client holds nothing');
  t.equal(await secondClientWhileFirstIdles(t, sluice, 'alice', 'sess'), '53300', 'database in session mode: it keeps its server');
  t.equal(await secondClientWhileFirstIdles(t, sluice, 'carol', 'app'), '53300', 'user in session mode on a transaction database');
  t.equal(await secondClientWhileFirstIdles(t, sluice, 'bob', 'sess'), 2, 'user in transaction mode beats the database setting');
  const modes = new Map([...sluice.pooler.pools.values()].map((p: Pool) => [p.name, p.settings.mode]));
  t.same(Object.fromEntries(modes), {
    'app/alice': 'transaction',
    'sess/alice': 'session',
    'app/carol': 'session',
    'sess/bob': 'transaction',
  });
});
