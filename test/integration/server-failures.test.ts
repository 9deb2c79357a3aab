// Proves Sluice survives its Postgres failing: a terminated backend, a restart under queued load, and a database that is down.
import net from 'node:net';
import t from 'tap';
import pg from 'pg';
import { startTestPostgres } from '../helpers/postgres.js';
import { startSluice, type TestSluice } from '../helpers/sluice.js';

const realPg = await startTestPostgres(t);

type PgError = Error & { code?: string; severity?: string };

async function connect(sluice: TestSluice, db = 'app'): Promise<pg.Client> {
  const c = new pg.Client(sluice.options('alice', db));
  c.on('error', () => undefined); // Asynchronous FATALs are collected where a test cares about them.
  await c.connect();
  return c;
}

function settle<T>(p: Promise<T>): Promise<{ value?: T; error?: PgError; at: number }> {
  return p.then(
    (value) => ({ value, at: performance.now() }),
    (error: PgError) => ({ error, at: performance.now() }),
  );
}

async function waitFor(what: string, cond: () => boolean | Promise<boolean>, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** A port nothing listens on: bound by us, then released. */
async function closedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

t.test('a backend terminated mid-transaction: its client gets the FATAL and is dropped; others and new clients are fine', async (t) => {
  const sluice = await startSluice(t, realPg, { default_pool_size: 3 });
  const victim = await connect(sluice);
  const asyncErrors: PgError[] = [];
  victim.on('error', (e: PgError) => asyncErrors.push(e));
  const victimEnded = new Promise((resolve) => victim.once('end', resolve));
  await victim.query('begin');
  const {
    rows: [{ pid }],
  } = await victim.query('select pg_backend_pid() as pid');

  const inTx = await connect(sluice);
  await inTx.query('begin');
  await inTx.query("select set_config('sluice.test', 'kept', true)");
  const busy = await connect(sluice);
  let busyDone = 0;
  let stop = false;
  const busyLoop = (async () => {
    while (!stop) busyDone += (await busy.query('select 1 as one')).rows[0].one;
  })();

  const [{ terminated }] = await realPg.query('select pg_terminate_backend($1) as terminated', [pid]);
  t.equal(terminated, true);
  await victimEnded;
  t.match(
    asyncErrors[0],
    { code: '57P01', severity: 'FATAL', message: 'terminating connection due to administrator command' },
    "the idle-in-transaction client was told, with Postgres' own FATAL",
  );
  // node-postgres then reports the close itself; nothing else may arrive.
  t.same(
    asyncErrors.slice(1).map((e) => e.message),
    ['Connection terminated unexpectedly'],
  );
  await t.rejects(victim.query('select 1'), 'and disconnected');

  const fresh = await connect(sluice);
  const {
    rows: [{ pid: freshPid }],
  } = await fresh.query('select pg_backend_pid() as pid');
  t.not(freshPid, pid, 'a new client works at once, on a live backend');
  await fresh.end();

  const startedBusy = busyDone;
  await waitFor('the busy client to make progress', () => busyDone > startedBusy + 5);
  stop = true;
  await busyLoop;
  t.same((await inTx.query("select current_setting('sluice.test') as v")).rows, [{ v: 'kept' }], 'a concurrent transaction is intact');
  await inTx.query('commit');
  await inTx.end();
  await busy.end();
});

t.test('Postgres restarted while clients wait: the queued clients are served after the restart, none hangs', async (t) => {
  const sluice = await startSluice(t, realPg, { default_pool_size: 1, query_wait_timeout: 20 });
  const holder = await connect(sluice);
  const holding = settle(holder.query('select pg_sleep(60)'));
  await waitFor('the holder to run', async () => {
    const rows = await realPg.query("select 1 from pg_stat_activity where query = 'select pg_sleep(60)' and state = 'active'");
    return rows.length === 1;
  });
  const waiters = await Promise.all([1, 2, 3].map(() => connect(sluice)));
  const pool = sluice.pooler.pools.get('app\0alice');
  if (!pool) throw new Error('no pool');
  const queued = waiters.map((c) => settle(c.query('select pg_backend_pid() as pid')));
  await waitFor('three queued queries', () => sluice.pooler.scheduler.waitingCount(pool) === 3);

  const restartedAt = performance.now();
  await realPg.restart();
  const held = await holding;
  t.match(held.error, { code: '57P01', severity: 'FATAL' }, "the running query gets Postgres' own shutdown FATAL");

  const outcomes = await Promise.all(queued);
  for (const [i, o] of outcomes.entries()) {
    t.error(o.error, `queued client ${i} was served, not failed`);
    t.ok(o.at - restartedAt < 15_000, `queued client ${i} settled in ${Math.round(o.at - restartedAt)} ms, well before query_wait_timeout`);
  }
  const pids = new Set(outcomes.map((o) => o.value?.rows[0].pid));
  t.equal(pids.size, 1, 'all three ran on the one new server connection, one after another');

  const fresh = await connect(sluice);
  t.same((await fresh.query('select 1 as one')).rows, [{ one: 1 }], 'a fresh client works after the restart');
  await fresh.end();
  for (const c of waiters) {
    t.same((await c.query('select 2 as two')).rows, [{ two: 2 }], 'the clients that waited keep working');
    await c.end();
  }
});

t.test('a database that is down gets a bounded, clear error while the other databases keep serving', async (t) => {
  const other = await startTestPostgres(t);
  const downPort = await closedPort();
  const sluice = await startSluice(t, realPg, {
    query_wait_timeout: 0.5,
    databases: {
      app: { host: realPg.host, port: realPg.port, dbname: 'app' },
      down: { host: '127.0.0.1', port: downPort, dbname: 'app' },
      other: { host: other.host, port: other.port, dbname: 'app' },
    },
  });
  const healthy = await connect(sluice, 'app');

  const loginAt = performance.now();
  const neverUp = new pg.Client(sluice.options('alice', 'down'));
  neverUp.on('error', () => undefined);
  const login = await settle(neverUp.connect());
  t.match(
    login.error,
    {
      code: '08006',
      message: `could not log in to the server for down/alice: connect ECONNREFUSED 127.0.0.1:${downPort}`,
    },
    'a database that was never up fails the login with the server error',
  );
  t.ok(login.at - loginAt < 2000, `promptly (${Math.round(login.at - loginAt)} ms)`);
  t.same((await healthy.query('select 1 as one')).rows, [{ one: 1 }], 'app is unaffected');

  const wasUp = await connect(sluice, 'other');
  t.same((await wasUp.query('select 1 as one')).rows, [{ one: 1 }], 'other works while its server is up');
  await other.stop();
  const otherPool = sluice.pooler.pools.get('other\0alice');
  await waitFor('the idle connection to the stopped server to be dropped', () => otherPool?.total === 0);

  for (const attempt of [1, 2]) {
    const askedAt = performance.now();
    const r = await settle(wasUp.query('select 1'));
    const waited = r.at - askedAt;
    t.match(r.error, { code: '53300', severity: 'ERROR' }, `attempt ${attempt}: an ERROR, the client stays connected`);
    t.match(
      r.error?.message,
      new RegExp(
        `^query_wait_timeout: tenant "alice" class "default" waited \\d+ ms for a server connection to other/alice \\(last server error: connect ECONNREFUSED 127\\.0\\.0\\.1:${other.port}\\)$`,
      ),
    );
    t.ok(waited >= 450 && waited < 3000, `attempt ${attempt}: bounded by query_wait_timeout (${Math.round(waited)} ms)`);
    t.same((await healthy.query('select 2 as two')).rows, [{ two: 2 }], 'app keeps serving in the same Sluice');
  }
  await wasUp.end();
  await healthy.end();
});
