// Proves CancelRequests through Sluice: a running query is canceled within a second, a wrong key does nothing, a queued query leaves the queue.
import t from 'tap';
import { startTestPostgres } from '../helpers/postgres.js';
import { startSluice } from '../helpers/sluice.js';
import { connectKeyed, type KeyedClient } from '../helpers/keyed-client.js';
import { sendCancelRequest } from '../helpers/raw-client.js';

const realPg = await startTestPostgres(t);
const sluice = await startSluice(t, realPg, { default_pool_size: 1 });

const connect = (): Promise<KeyedClient> => connectKeyed(sluice.options('alice'));

async function waitFor(what: string, cond: () => boolean | Promise<boolean>, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Resolves once Postgres shows the statement running. */
async function running(sql: string): Promise<number> {
  let pid = 0;
  await waitFor(`"${sql}" to run`, async () => {
    const rows = await realPg.query(`select pid from pg_stat_activity where query = $1 and state = 'active'`, [sql]);
    pid = rows[0]?.pid ?? 0;
    return pid !== 0;
  });
  return pid;
}

function settle<T>(p: Promise<T>): Promise<{ value?: T; error?: Error & { code?: string }; at: number }> {
  return p.then(
    (value) => ({ value, at: performance.now() }),
    (error: Error) => ({ error, at: performance.now() }),
  );
}

t.test('a CancelRequest with the key Sluice gave cancels the running query within a second', async (t) => {
  const c = await connect();
  t.not(c.processID, 0, 'Sluice sent BackendKeyData');
  const sleeping = settle(c.query('select pg_sleep(10)'));
  await running('select pg_sleep(10)');
  const sentAt = performance.now();
  await sendCancelRequest(sluice.port, c.processID, c.secretKey);
  const outcome = await sleeping;
  t.equal(outcome.error?.code, '57014');
  t.equal(outcome.error?.message, 'canceling statement due to user request');
  const took = outcome.at - sentAt;
  t.ok(took < 1000, `canceled ${Math.round(took)} ms after the CancelRequest`);
  t.same((await c.query('select 1 as one')).rows, [{ one: 1 }], 'the connection stays usable');
  await c.end();
});

t.test('a CancelRequest with a wrong key does nothing', async (t) => {
  const c = await connect();
  const sleeping = settle(c.query('select pg_sleep(1.5) as slept'));
  await running('select pg_sleep(1.5) as slept');
  // The pooler has handled each request by the time it closes the cancel connection.
  await sendCancelRequest(sluice.port, c.processID, c.secretKey ^ 1);
  await sendCancelRequest(sluice.port, c.processID ^ 1, c.secretKey);
  const outcome = await sleeping;
  t.error(outcome.error, 'the query was not canceled');
  t.same(outcome.value?.rows, [{ slept: '' }], 'it completed normally');
  await c.end();
});

t.test('canceling a query queued for a server takes it out of the queue with 57014; the connection stays usable', async (t) => {
  const holder = await connect();
  await holder.query('begin');
  await holder.query('select 1'); // The transaction now holds the pool's only server connection.
  const queued = await connect();
  const waiting = settle(queued.query('select 2 as two'));
  const pool = sluice.pooler.pools.get('app\0alice');
  t.ok(pool, 'the pool exists');
  await waitFor('the query to be queued', () => sluice.pooler.scheduler.waitingCount(pool!) === 1);

  const sentAt = performance.now();
  await sendCancelRequest(sluice.port, queued.processID, queued.secretKey);
  const outcome = await waiting;
  t.equal(outcome.error?.code, '57014');
  t.match(
    outcome.error?.message,
    /^canceling statement due to user request: tenant "alice" class "default" waited \d+ ms in the queue for app\/alice$/,
  );
  t.equal((outcome.error as { severity?: string })?.severity, 'ERROR', 'an ERROR, not FATAL: the client keeps its connection');
  t.ok(outcome.at - sentAt < 1000, 'the queued query was failed promptly');
  t.equal(sluice.pooler.scheduler.waitingCount(pool!), 0, 'it left the queue');

  await holder.query('commit');
  t.same((await queued.query('select 3 as three')).rows, [{ three: 3 }], 'the canceled client runs its next query');
  t.same((await holder.query('select 4 as four')).rows, [{ four: 4 }], 'the holder was not affected');
  await queued.end();
  await holder.end();
});
