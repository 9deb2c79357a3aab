// Proves session mode does not hand on a backend whose leftover temp schema would let PREPARE TRANSACTION succeed where a fresh session fails, as PostgreSQL's temp test expects.
import t from 'tap';
import pgLib from 'pg';
import { startTestPostgres } from '../helpers/postgres.js';
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
