// Proves query_timeout and transaction_timeout: a query or transaction running too long is canceled in Postgres and its client closed, while others go on.
import t from 'tap';
import { startTestPostgres } from '../helpers/postgres.js';
import { startSluice } from '../helpers/sluice.js';
import { connectWatched, type Failure, waitFor, within } from '../helpers/wait.js';

const pgServer = await startTestPostgres(t);

/** Whether a backend of carol is still running a query with this text (the cancel reached Postgres when none is). */
async function running(text: string): Promise<boolean> {
  const rows = await pgServer.query("select 1 from pg_stat_activity where usename = 'carol' and state = 'active' and query = $1", [text]);
  return rows.length > 0;
}

const SLEEP = 'select pg_sleep(60)';

t.test('query_timeout cancels the query in Postgres and closes the client with 57014', async (t) => {
  const sluice = await startSluice(t, pgServer, { default_pool_size: 2, query_timeout: 0.5 });
  const slow = await connectWatched(t, sluice, 'carol');
  const failed = slow.client.query(SLEEP).then(
    () => null,
    (err: Failure) => err,
  );
  await within('the client to be closed', slow.ended, 10_000);
  const err = (await failed) ?? slow.errors[0];
  t.match(err, { code: '57014', message: 'query_timeout: the query ran too long and was canceled; connection closed' });
  await waitFor('Postgres to stop the query', async () => !(await running(SLEEP)));
  const other = await connectWatched(t, sluice, 'carol');
  t.same((await other.client.query('select 1 as one')).rows, [{ one: 1 }], 'the pool serves the next client');
});

t.test('transaction_timeout ends a transaction left open, rolled back, and one whose query runs on', async (t) => {
  await pgServer.query('create table if not exists xt_t (x int); grant all on xt_t to public; truncate xt_t');
  const sluice = await startSluice(t, pgServer, { default_pool_size: 2, transaction_timeout: 0.5 });
  const open = await connectWatched(t, sluice, 'carol');
  await open.client.query('begin');
  await open.client.query('insert into xt_t values (1)');
  await within('the open transaction to be ended', open.ended, 10_000);
  t.match(open.errors[0], { code: '25P04', message: 'transaction_timeout: connection closed after its transaction ran too long' });

  const busy = await connectWatched(t, sluice, 'carol');
  await busy.client.query('begin');
  const failed = busy.client.query(SLEEP).then(
    () => null,
    (err: Failure) => err,
  );
  await within('the busy transaction to be ended', busy.ended, 10_000);
  t.match((await failed) ?? busy.errors[0], { code: '25P04' });
  await waitFor('Postgres to stop the query', async () => !(await running(SLEEP)));

  const next = await connectWatched(t, sluice, 'carol');
  t.same((await next.client.query('select count(*)::int as n from xt_t')).rows, [{ n: 0 }], 'the insert was rolled back');
  t.same((await next.client.query('select 1 as one')).rows, [{ one: 1 }], 'autocommit statements under the limit run');
});
