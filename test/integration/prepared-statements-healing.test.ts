// Proves that after DDL changes a table's shape, shared prepared statements are re-prepared and retried once outside transactions, and that inside one the client gets Postgres' own error and a working statement after ROLLBACK.
import t, { type Test } from 'tap';
import pgLib from 'pg';
import postgres from 'postgres';
import { startTestPostgres, APP_DB } from '../helpers/postgres.js';
import { startSluice, type TestSluice } from '../helpers/sluice.js';
import {
  WireClient,
  bind,
  dataRow,
  describeStatement,
  errorFields,
  execute,
  flush,
  parse,
  queryMsg,
  syncMsg,
  typesOf,
  type BackendMsg,
} from '../helpers/wire.js';

const pg = await startTestPostgres(t);

/** A fresh table owned by bob with rows 1 and 2, and one column. */
async function table(name: string): Promise<void> {
  await pg.query(`create table ${name} (id int)`);
  await pg.query(`insert into ${name} values (1), (2)`);
  await pg.query(`grant all on ${name} to bob, alice`);
}

async function wire(t: Test, sluice: TestSluice): Promise<WireClient> {
  const c = await WireClient.connect(sluice.options('bob'));
  t.teardown(() => c.close());
  return c;
}

function rows(msgs: BackendMsg[]): (string | null)[][] {
  return msgs.filter((m) => m.type === 'D').map((m) => dataRow(m));
}

t.test('node-postgres named queries keep working after ALTER TABLE adds a column', async (t) => {
  await table('heal_pg');
  const sluice = await startSluice(t, pg, { default_pool_size: 1 });
  const c = new pgLib.Client(sluice.options('alice'));
  await c.connect();
  t.teardown(() => c.end());
  const q = { name: 'all-rows', text: 'select * from heal_pg order by id' };
  t.same((await c.query(q)).rows, [{ id: 1 }, { id: 2 }]);
  await pg.query(`alter table heal_pg add column note text default 'n'`);
  t.same(
    (await c.query(q)).rows,
    [
      { id: 1, note: 'n' },
      { id: 2, note: 'n' },
    ],
    'the same client, same name',
  );
  const other = new pgLib.Client(sluice.options('alice'));
  await other.connect();
  t.teardown(() => other.end());
  t.same(
    (await other.query({ ...q, name: 'theirs' })).rows,
    [
      { id: 1, note: 'n' },
      { id: 2, note: 'n' },
    ],
    'a client preparing it after the change',
  );
});

t.test('a client that prepares after the change is not served the stale statement (Describe, flushed without Sync)', async (t) => {
  await table('heal_wire');
  const sluice = await startSluice(t, pg, { default_pool_size: 1 });
  const before = await wire(t, sluice);
  before.send(parse('select * from heal_wire order by id', 'early'), bind([], { statement: 'early' }), execute(), syncMsg());
  t.equal(typesOf(await before.untilReady()), '12DDCZ');
  await pg.query('alter table heal_wire add column extra int default 5');
  const after = await wire(t, sluice);
  after.send(parse('select * from heal_wire order by id', 'late'), describeStatement('late'), flush());
  const described = [await after.next(), await after.next(), await after.next()];
  t.equal(typesOf(described), '1tT', 'ParseComplete, ParameterDescription, RowDescription: no error');
  t.equal(described[2].body.readInt16BE(0), 2, 'the description has the new column');
  after.send(bind([], { statement: 'late' }), execute(), syncMsg());
  t.same(rows(await after.untilReady()), [
    ['1', '5'],
    ['2', '5'],
  ]);
});

t.test('a Bind of a stale statement outside a transaction is retried once, invisibly', async (t) => {
  await table('heal_bind');
  const sluice = await startSluice(t, pg, { default_pool_size: 1 });
  const c = await wire(t, sluice);
  c.send(parse('select * from heal_bind order by id', 's'), bind([], { statement: 's' }), execute(), syncMsg());
  t.equal(typesOf(await c.untilReady()), '12DDCZ');
  await pg.query('alter table heal_bind add column extra text');
  c.send(bind([], { statement: 's' }), execute(), syncMsg());
  const r = await c.untilReady();
  t.equal(typesOf(r), '2DDCZ', 'exactly the replies of a working statement');
  t.same(rows(r), [
    ['1', null],
    ['2', null],
  ]);
});

t.test('after something ran in the same pipeline the error reaches the client, and the next use works', async (t) => {
  await table('heal_ran');
  const sluice = await startSluice(t, pg, { default_pool_size: 1 });
  const c = await wire(t, sluice);
  c.send(parse('select * from heal_ran order by id', 's'), syncMsg());
  t.equal(typesOf(await c.untilReady()), '1Z');
  await pg.query('alter table heal_ran add column extra int');
  // The insert ran before the stale Bind; retrying only the Bind would commit half a pipeline.
  c.send(parse('insert into heal_ran values (3)'), bind(), execute(), bind([], { statement: 's' }), execute(), syncMsg());
  const failed = await c.untilReady();
  t.equal(typesOf(failed), '12CEZ');
  t.equal(errorFields(failed[3]).C, '0A000', "Postgres' own error: cached plan must not change result type");
  t.same(await pg.query('select count(*)::int as n from heal_ran'), [{ n: 2 }], 'the insert was rolled back with it');
  c.send(bind([], { statement: 's' }), execute(), syncMsg());
  t.same(
    rows(await c.untilReady()),
    [
      ['1', null],
      ['2', null],
    ],
    'the statement was prepared again',
  );
});

t.test('inside a transaction block: the error, an aborted transaction, and a working statement after ROLLBACK', async (t) => {
  await table('heal_tx');
  const sluice = await startSluice(t, pg, { default_pool_size: 1 });
  const c = await wire(t, sluice);
  c.send(parse('select * from heal_tx order by id', 's'), syncMsg());
  await c.untilReady();
  await pg.query('alter table heal_tx add column extra int');
  c.send(queryMsg('begin'), bind([], { statement: 's' }), execute(), syncMsg());
  const r = await c.untilReady(2);
  t.equal(typesOf(r), 'CZEZ');
  t.equal(errorFields(r[2]).C, '0A000');
  t.equal(String.fromCharCode(r[3].body[0]), 'E', 'the transaction is aborted, as on one backend');
  c.send(queryMsg('rollback'));
  await c.untilReady();
  c.send(bind([], { statement: 's' }), execute(), syncMsg());
  t.same(rows(await c.untilReady()), [
    ['1', null],
    ['2', null],
  ]);
});

t.test('postgres.js clients see the new shape after the change, old connection and new', async (t) => {
  await table('heal_js');
  const sluice = await startSluice(t, pg, { default_pool_size: 1 });
  const old = postgres({ ...sluice.options('alice'), max: 1 });
  t.teardown(() => old.end());
  t.same([...(await old`select * from heal_js where id > ${0} order by id`)], [{ id: 1 }, { id: 2 }]);
  await pg.query(`alter table heal_js add column tag text default 't'`);
  const fresh = postgres({ ...sluice.options('alice'), max: 1 });
  t.teardown(() => fresh.end());
  t.same(
    [...(await fresh`select * from heal_js where id > ${0} order by id`)],
    [
      { id: 1, tag: 't' },
      { id: 2, tag: 't' },
    ],
    'a new connection preparing the same text',
  );
  const again = [...(await old`select * from heal_js where id > ${0} order by id`)];
  t.same(
    again.map((r) => r.id),
    [1, 2],
    'the old connection still gets its rows',
  );
  t.equal(sluice.pooler.pools.get(`${APP_DB}\0alice`)?.total, 1, 'all on one server connection');
});
