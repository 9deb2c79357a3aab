// Proves lastval() and currval() never answer with another client's sequence value in transaction mode: on a server connection another client used last, the client gets Postgres' own "not yet defined in this session".
import t, { type Test } from 'tap';
import pgLib from 'pg';
import { startTestPostgres } from '../helpers/postgres.js';
import { startSluice } from '../helpers/sluice.js';

const pg = await startTestPostgres(t);
await pg.query('create sequence if not exists sc_seq; grant usage, select on sequence sc_seq to alice');

async function client(t: Test, options: pgLib.ClientConfig): Promise<pgLib.Client> {
  const c = new pgLib.Client(options);
  c.on('error', () => undefined);
  await c.connect();
  t.teardown(() => c.end().catch(() => undefined));
  return c;
}

const answer = (c: pgLib.Client, sql: string) =>
  c.query(sql).then(
    (r) => String(Object.values(r.rows[0])[0]),
    (e: { code: string }) => e.code,
  );

t.test('lastval() and currval() (as PDO::lastInsertId sends it) never return the value another client drew', async (t) => {
  const direct = await client(t, { connectionString: pg.url() });
  t.equal(await answer(direct, 'SELECT LASTVAL()'), '55000', 'directly, a session that drew nothing: not yet defined');
  const sluice = await startSluice(t, pg, { default_pool_size: 1 });
  const a = await client(t, sluice.options('alice'));
  const b = await client(t, sluice.options('alice'));
  const drawn = await answer(a, `select nextval('sc_seq')`);
  t.equal(await answer(a, 'SELECT LASTVAL()'), drawn, 'a, next on the same backend, gets its own value');
  t.equal(await answer(b, 'SELECT LASTVAL()'), '55000', "b, on the backend a used, gets the error a fresh session gets, not a's value");
  t.equal(await answer(b, `select currval('sc_seq')`), '55000', 'currval too');
  const mine = await answer(b, `select nextval('sc_seq')`);
  t.equal(await answer(b, `select currval('sc_seq')`), mine, 'b then has its own');
  t.equal(await answer(a, 'select lastval()'), '55000', "a, after b used the backend: not b's value");
  await a.query('begin');
  const drawnAgain = await answer(a, `select nextval('sc_seq')`);
  t.equal(await answer(a, 'select lastval()'), drawnAgain, 'inside one transaction it works as always');
  await a.query('commit');
});
