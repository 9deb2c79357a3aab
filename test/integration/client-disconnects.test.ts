// Proves a client that vanishes mid-transaction or mid-query leaves no trace on the server connection the next client gets.
import t from 'tap';
import pg from 'pg';
import { startTestPostgres } from '../helpers/postgres.js';
import { startSluice } from '../helpers/sluice.js';

const realPg = await startTestPostgres(t);
// One server connection, so the next client necessarily gets whatever the vanished one left behind.
const sluice = await startSluice(t, realPg, { default_pool_size: 1 });
const pool = () => {
  const p = sluice.pooler.pools.get('app\0alice');
  if (!p) throw new Error('no pool for app/alice yet');
  return p;
};

async function connect(): Promise<pg.Client> {
  const c = new pg.Client(sluice.options('alice'));
  c.on('error', () => undefined); // The vanishing clients' own socket errors are the point of the test.
  await c.connect();
  return c;
}

/** Pulls the plug: no Terminate, no FIN handshake wait, just a destroyed socket. */
function vanish(c: pg.Client): void {
  (c as unknown as { connection: { stream: { destroy(): void } } }).connection.stream.destroy();
}

async function waitFor(what: string, cond: () => boolean | Promise<boolean>, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function activity(pid: number): Promise<{ state: string; backend_xid: string | null } | undefined> {
  const rows = await realPg.query('select state, backend_xid from pg_stat_activity where pid = $1', [pid]);
  return rows[0];
}

t.test('a client vanishing mid-transaction: the next client gets a clean, rolled-back server connection', async (t) => {
  const a = await connect();
  await a.query('begin');
  await a.query('create temp table vanish_t (n int)');
  await a.query('insert into vanish_t values (1), (2)');
  const { rows: aRows } = await a.query(
    "select pg_backend_pid() as pid, txid_current() as xid, set_config('application_name', 'leak', true) as app",
  );
  const [{ pid: aPid, app }] = aRows;
  t.equal(app, 'leak');
  t.equal((await activity(aPid))?.state, 'idle in transaction', 'A holds an open transaction');
  vanish(a);

  const b = await connect();
  const { rows } = await b.query(
    `select pg_backend_pid() as pid,
            now() = statement_timestamp() as fresh_transaction,
            txid_current_if_assigned() as xid,
            to_regclass('pg_temp.vanish_t') as temp_table,
            current_setting('application_name') as app`,
  );
  t.same(rows, [{ pid: aPid, fresh_transaction: true, xid: null, temp_table: null, app: '' }], 'same backend, nothing of A left');
  const after = await activity(aPid);
  t.equal(after?.state, 'idle', 'pg_stat_activity: idle, not idle in transaction');
  t.equal(after?.backend_xid, null, 'no transaction id held');
  t.same(await realPg.query("select count(*)::int as n from pg_class where relname = 'vanish_t'"), [{ n: 0 }], 'the temp table is gone');
  await b.end();
});

t.test('a client vanishing while its query runs: the server connection is closed, not reused', async (t) => {
  const a = await connect();
  const sleeping = a.query('select pg_sleep(5)').catch((e: Error) => e);
  let sleeperPid = 0;
  await waitFor('pg_sleep to run', async () => {
    const rows = await realPg.query("select pid from pg_stat_activity where query = 'select pg_sleep(5)' and state = 'active'");
    sleeperPid = rows[0]?.pid ?? 0;
    return sleeperPid !== 0;
  });
  vanish(a);
  t.ok(await sleeping, 'A saw its own socket go');
  await waitFor('Sluice to drop the busy server connection', () => pool().total === 0);

  const b = await connect();
  const { rows } = await b.query('select pg_backend_pid() as pid');
  t.not(rows[0].pid, sleeperPid, 'the next client gets a different backend');
  await b.end();
  // Postgres notices the closed socket once pg_sleep returns and it tries to reply.
  await waitFor('the pg_sleep backend to exit', async () => (await activity(sleeperPid)) === undefined, 10_000);
  t.pass('the backend that ran pg_sleep went away');
});

t.test('a client queued behind one that vanishes mid-query is served by a fresh server connection', async (t) => {
  const a = await connect();
  const sleeping = a.query('select pg_sleep(5)').catch((e: Error) => e);
  let sleeperPid = 0;
  await waitFor('pg_sleep to run', async () => {
    const rows = await realPg.query("select pid from pg_stat_activity where query = 'select pg_sleep(5)' and state = 'active'");
    sleeperPid = rows[0]?.pid ?? 0;
    return sleeperPid !== 0;
  });
  const b = await connect();
  const queued = b.query('select pg_backend_pid() as pid');
  await waitFor('B to be queued', () => sluice.pooler.scheduler.waitingCount(pool()) === 1);
  const vanishedAt = performance.now();
  vanish(a);
  await sleeping;
  const { rows } = await queued;
  const waited = performance.now() - vanishedAt;
  t.not(rows[0].pid, sleeperPid, 'B ran on a new backend');
  // Without a dispatch when the busy connection closes, B would sit until query_wait_timeout (30 s here).
  t.ok(waited < 5000, `B was served ${Math.round(waited)} ms after A vanished`);
  await b.end();
});
