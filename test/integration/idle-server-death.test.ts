// A transaction whose idle server connection died just before it was handed out goes to a fresh one: the client never sees that death.
import t from 'tap';
import type pg from 'pg';
import { startTestPostgres } from '../helpers/postgres.js';
import { startSluice } from '../helpers/sluice.js';

const realPg = await startTestPostgres(t);
// One server connection for bob: every query after a termination meets the dead one first.
const sluice = await startSluice(t, realPg, { default_pool_size: 1 });

async function terminateBackendOf(c: pg.Client): Promise<void> {
  const { rows } = await c.query('select pg_backend_pid() as pid');
  await realPg.query('select pg_terminate_backend($1)', [rows[0].pid]);
}

/** Terminates the idle backend, then asks at once, `rounds` times; returns what went wrong. */
async function askAfterTermination(c: pg.Client, ask: (i: number) => pg.QueryConfig, rounds = 30): Promise<string[]> {
  const failures: string[] = [];
  for (let i = 0; i < rounds; i++) {
    await terminateBackendOf(c);
    try {
      const r = await c.query(ask(i));
      if (r.rows[0].n !== i) failures.push(`round ${i}: wrong answer ${r.rows[0].n}`);
    } catch (e) {
      failures.push(`round ${i}: ${(e as Error).message}`);
      break;
    }
  }
  return failures;
}

t.test('a query right after its idle server connection was terminated is answered', async (t) => {
  const c = await sluice.connect('bob');
  t.same(await askAfterTermination(c, (i) => ({ text: 'select $1::int as n', values: [i] })), []);
});

t.test('so is a named prepared statement the client prepared before', async (t) => {
  const c = await sluice.connect('bob');
  const ask = (i: number): pg.QueryConfig => ({ name: 'ask-n', text: 'select $1::int as n', values: [i] });
  await c.query(ask(-1));
  t.same(await askAfterTermination(c, ask), []);
});

t.test('a transaction already under way is not moved: the client hears of the loss', async (t) => {
  const c = await sluice.connect('bob');
  await c.query('begin');
  await terminateBackendOf(c);
  const err = await c.query('select 1').then(
    () => null,
    (e: Error & { code?: string }) => e,
  );
  // As on a direct connection: the backend's FATAL reaches the client, which then refuses further queries.
  t.ok(err, 'the statement inside the transaction fails instead of running on another connection');
});
