// Proves a session-mode backend that a client used temp tables on still lets the next client PREPARE TRANSACTION: the temp schema DISCARD ALL leaves behind does not trip it.
import t from 'tap';
import pgLib from 'pg';
import { startTestPostgres } from '../helpers/postgres.js';
import { startSluice } from '../helpers/sluice.js';

const pg = await startTestPostgres(t, { settings: { max_prepared_transactions: 4 } });
await pg.query('create table smx_items (id int primary key)');
await pg.query('grant all on smx_items to alice');

t.test('after a client that used temp tables leaves, the next client on its backend can PREPARE TRANSACTION', async (t) => {
  const sluice = await startSluice(t, pg, { pool_mode: 'session', default_pool_size: 1 });
  const first = new pgLib.Client(sluice.options('alice'));
  await first.connect();
  const firstPid = (await first.query('select pg_backend_pid() as pid')).rows[0].pid;
  await first.query('create temp table smx_tmp (x int)');
  await first.query('insert into smx_tmp values (1)');
  await first.end();

  const second = new pgLib.Client(sluice.options('alice'));
  await second.connect();
  t.teardown(() => second.end());
  const row = (await second.query('select pg_backend_pid() as pid, pg_my_temp_schema() <> 0 as temp_schema')).rows[0];
  t.same(row, { pid: firstPid, temp_schema: true }, 'the same backend, whose empty temp schema DISCARD ALL leaves');
  await second.query('begin');
  await second.query('insert into smx_items values (1)');
  await second.query(`prepare transaction 'smx_1'`);
  await second.query(`commit prepared 'smx_1'`);
  t.same(await pg.query('select id from smx_items'), [{ id: 1 }], 'the prepared transaction committed');
});
