// Proves session mode does not hand on a backend whose leftover temp schema would let PREPARE TRANSACTION succeed where a fresh session fails, as PostgreSQL's temp test expects.
import t from 'tap';
import pgLib from 'pg';
import { startTestPostgres, APP_DB } from '../helpers/postgres.js';
import { startSluice } from '../helpers/sluice.js';

const pg = await startTestPostgres(t, { settings: { max_prepared_transactions: 4 } });

/** A new session's first pg_temp lookup creates its temp schema, which marks the transaction as touching temp objects. */
const PREPARE_IN_TEMP = [`set search_path to 'pg_temp'`, 'begin', 'select current_schema()', `prepare transaction 'smx_search'`];

async function prepareInTemp(options: pgLib.ClientConfig): Promise<string> {
  const c = new pgLib.Client(options);
  await c.connect();
  try {
    for (const sql of PREPARE_IN_TEMP) await c.query(sql);
    await c.query(`rollback prepared 'smx_search'`);
    return 'prepared';
  } catch (err) {
    return (err as { code: string }).code;
  } finally {
    await c.end();
  }
}

t.test('after a client that used temp tables leaves, PREPARE TRANSACTION behaves as in a fresh session', async (t) => {
  const direct = await prepareInTemp({ connectionString: pg.url() });
  t.equal(direct, '0A000', 'directly: cannot PREPARE a transaction that has operated on temporary objects');
  const sluice = await startSluice(t, pg, { pool_mode: 'session', default_pool_size: 1 });
  const first = new pgLib.Client(sluice.options('alice'));
  await first.connect();
  await first.query('create temp table smx_tmp (x int)');
  await first.end();
  t.equal(await prepareInTemp(sluice.options('alice')), direct, 'through session mode, after that client: the same');
});

t.test(
  'transaction mode, session_state pin: after a pinned client that used temp tables leaves, PREPARE TRANSACTION behaves as in a fresh session',
  async (t) => {
    const direct = await prepareInTemp({ connectionString: pg.url() });
    const sluice = await startSluice(t, pg, { pool_mode: 'transaction', session_state: 'pin', default_pool_size: 1 });
    const first = new pgLib.Client(sluice.options('alice'));
    await first.connect();
    await first.query('create temp table smx_tmp (x int)');
    await first.end();
    t.equal(await prepareInTemp(sluice.options('alice')), direct, 'through transaction mode, after that pinned client: the same');
  },
);

t.test('transaction mode, session_state pin: a temp statistics object pins its client like a temp table', async (t) => {
  const sluice = await startSluice(t, pg, { pool_mode: 'transaction', session_state: 'pin', default_pool_size: 2 });
  const a = new pgLib.Client(sluice.options('alice'));
  const b = new pgLib.Client(sluice.options('alice'));
  await a.connect();
  await b.connect();
  t.teardown(() => Promise.all([a.end(), b.end()]));
  await a.query('create table if not exists smx_stats (x int, y int)');
  await a.query('create statistics pg_temp.smx_st on x, y from smx_stats');
  // b holds a backend meanwhile, so unpinned, a's next transaction could land on the other one.
  await Promise.all([b.query('select pg_sleep(0.05)'), a.query('select pg_sleep(0.05)')]);
  await a.query('drop statistics pg_temp.smx_st');
  t.pass('the statistics object was still there: a stayed on its backend');
});

t.test(
  'transaction mode, session_state pin: a client unpinned by dropping its temp table leaves no temp schema behind for the next',
  async (t) => {
    const direct = await prepareInTemp({ connectionString: pg.url() });
    const sluice = await startSluice(t, pg, { pool_mode: 'transaction', session_state: 'pin', default_pool_size: 1 });
    const first = new pgLib.Client(sluice.options('alice'));
    await first.connect();
    t.teardown(() => first.end());
    await first.query('create temp table smx_tmp2 (x int)');
    await first.query('drop table smx_tmp2');
    t.equal(
      await prepareInTemp(sluice.options('alice')),
      direct,
      'the next client, while the first is still connected: the same as a fresh session',
    );
    t.equal((await first.query('select 1 as one')).rows[0].one, 1, 'the first client goes on, on another backend');
  },
);

t.test(
  'transaction mode, session_state pin: a temp table dropped at commit pins nothing, and leaves no temp schema for the next client',
  async (t) => {
    const direct = await prepareInTemp({ connectionString: pg.url() });
    const sluice = await startSluice(t, pg, { pool_mode: 'transaction', session_state: 'pin', default_pool_size: 1 });
    const first = new pgLib.Client(sluice.options('alice'));
    await first.connect();
    t.teardown(() => first.end());
    await first.query('begin');
    await first.query('create temp table smx_tmp3 (x int) on commit drop');
    await first.query('commit');
    t.equal(sluice.pooler.pools.get(`${APP_DB}\0alice`)?.pinned.size ?? 0, 0, 'not pinned');
    t.equal(await prepareInTemp(sluice.options('alice')), direct, 'the next client: the same as a fresh session');
  },
);
