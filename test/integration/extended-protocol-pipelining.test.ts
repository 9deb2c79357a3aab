// Proves at the wire level that pipelined extended/simple batches, COPY and FunctionCall pass through Sluice exactly as Postgres answers them.
import t, { type Test } from 'tap';
import pgLib from 'pg';
import { startTestPostgres, ROLES, APP_DB } from '../helpers/postgres.js';
import { startSluice } from '../helpers/sluice.js';
import {
  WireClient,
  bind,
  commandTag,
  copyData,
  copyDone,
  copyFail,
  describePortal,
  errorFields,
  execute,
  extendedQuery,
  flush,
  functionCall,
  int32,
  parse,
  queryMsg,
  rowsOf,
  splitAtReady,
  statusesOf,
  syncMsg,
  typesOf,
  type BackendMsg,
  type WireLogin,
} from '../helpers/wire.js';

const pg = await startTestPostgres(t);
// One server connection: every client shares it, so a leak between pipelines or clients would show.
const sluice = await startSluice(t, pg, { default_pool_size: 1 });
const viaSluice: WireLogin = sluice.options('bob');
const direct: WireLogin = { host: pg.host, port: pg.port, user: ROLES.bob.user, password: ROLES.bob.password, database: APP_DB };

await pg.query('create table wire_copy (a int, b text)');
await pg.query('grant all on wire_copy to bob');

async function wire(t: Test, login: WireLogin = viaSluice): Promise<WireClient> {
  const c = await WireClient.connect(login);
  t.teardown(() => c.close());
  return c;
}

/** Sends frames in one write on a fresh connection and reads through `ready` ReadyForQuery messages. */
async function pipeline(t: Test, login: WireLogin, frames: Buffer[], ready: number): Promise<BackendMsg[]> {
  const c = await wire(t, login);
  c.send(...frames);
  return c.untilReady(ready);
}

function bobPool() {
  const pool = sluice.pooler.pools.get(`${APP_DB}\0bob`);
  if (!pool) throw new Error('no pool for bob yet');
  return pool;
}

/** After the last ReadyForQuery the only server connection must be back in the pool, unlinked. */
function assertReleased(t: Test): void {
  const pool = bobPool();
  t.equal(pool.used.size, 0, 'no server connection left linked');
  t.equal(pool.total, 1, 'never more than the one server connection');
}

/** Clients queued for a server connection, as their sessions report it. */
function waitingClients(): number {
  return [...sluice.pooler.sessions.values()].filter((s) => s.state === 'waiting').length;
}

async function until(cond: () => boolean, what: string, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

const THREE_BATCHES = [
  extendedQuery('select 1 as a'),
  extendedQuery('select $1::text as b, $2::int + 1 as c', ['x', '41']),
  extendedQuery('select current_user as u, $1::text is null as n', [null]),
];

t.test('three Parse/Bind/Describe/Execute/Sync batches in one write come back in order', async (t) => {
  const msgs = await pipeline(t, viaSluice, THREE_BATCHES, 3);
  const batches = splitAtReady(msgs);
  t.same(batches.map(typesOf), ['12TDCZ', '12TDCZ', '12TDCZ']);
  t.same(
    batches.map((b) => rowsOf(b)),
    [[['1']], [['x', '42']], [['bob', 't']]],
  );
  t.same(
    batches.map((b) => commandTag(b[4])),
    ['SELECT 1', 'SELECT 1', 'SELECT 1'],
  );
  t.equal(statusesOf(msgs), 'III');
  const reference = await pipeline(t, direct, THREE_BATCHES, 3);
  t.same(typesOf(msgs), typesOf(reference), 'same message sequence as Postgres itself sends');
  assertReleased(t);
});

t.test('a pipeline queued behind another client runs intact once the server is free', async (t) => {
  const holder = new pgLib.Client(sluice.options('bob'));
  await holder.connect();
  t.teardown(() => holder.end());
  await holder.query('begin');
  await holder.query('select 1'); // Now the only server connection is linked to holder.
  const c = await wire(t);
  c.send(...THREE_BATCHES);
  await until(() => waitingClients() === 1, 'the pipeline to queue');
  t.equal(c.buffered, 0, 'nothing answered while the server is taken');
  await holder.query('commit');
  const batches = splitAtReady(await c.untilReady(3));
  t.same(batches.map(typesOf), ['12TDCZ', '12TDCZ', '12TDCZ']);
  t.same(
    batches.map((b) => rowsOf(b)),
    [[['1']], [['x', '42']], [['bob', 't']]],
  );
  t.same((await holder.query('select 2 as n')).rows, [{ n: 2 }], 'the holder gets the server back afterwards');
  assertReleased(t);
});

t.test('an error in the middle batch: E then Z, and the third batch still runs', async (t) => {
  const frames = [
    extendedQuery('select 10 as a'),
    extendedQuery('select 1 / (x - 2) as q from generate_series(1, 3) x'),
    extendedQuery('select $1::int * 3 as c', ['7']),
  ];
  const msgs = await pipeline(t, viaSluice, frames, 3);
  const batches = splitAtReady(msgs);
  t.same(batches.map(typesOf), ['12TDCZ', '12TDEZ', '12TDCZ'], 'row for x=1, then the error at x=2');
  t.equal(errorFields(batches[1][4]).C, '22012', 'division by zero');
  t.same(
    batches.map((b) => rowsOf(b)),
    [[['10']], [['-1']], [['21']]],
  );
  t.equal(statusesOf(msgs), 'III');
  const reference = await pipeline(t, direct, frames, 3);
  t.same(typesOf(msgs), typesOf(reference), 'same message sequence as Postgres itself sends');
  assertReleased(t);
});

t.test('simple Query and extended batches mixed in one write', async (t) => {
  const msgs = await pipeline(
    t,
    viaSluice,
    [queryMsg('select 1 as a; select 2 as b'), extendedQuery('select $1::int * 10 as c', ['3']), queryMsg(''), queryMsg('select 4 as d')],
    4,
  );
  const batches = splitAtReady(msgs);
  t.same(batches.map(typesOf), ['TDCTDCZ', '12TDCZ', 'IZ', 'TDCZ']);
  t.same(
    batches.map((b) => rowsOf(b)),
    [[['1'], ['2']], [['30']], [], [['4']]],
  );
  assertReleased(t);
});

t.test('a portal read in steps with Flush holds the server until Sync', async (t) => {
  const c = await wire(t);
  c.send(parse('select g from generate_series(1, 5) g'), bind(), describePortal(), execute('', 2), flush());
  const first = [await c.next(), await c.next(), await c.next(), await c.next(), await c.next()];
  t.equal(typesOf(first), '12TDD');
  t.equal((await c.next()).type, 's', 'PortalSuspended after 2 rows');
  t.equal(bobPool().used.size, 1, 'no Sync yet: the server stays linked');
  c.send(execute('', 2), flush());
  const second = [await c.next(), await c.next(), await c.next()];
  t.equal(typesOf(second), 'DDs');
  c.send(execute('', 0), syncMsg());
  const rest = await c.untilReady();
  t.equal(typesOf(rest), 'DCZ');
  t.same([...rowsOf(first), ...rowsOf(second), ...rowsOf(rest)], [['1'], ['2'], ['3'], ['4'], ['5']]);
  assertReleased(t);
});

t.test('a pipeline spanning BEGIN, an extended insert and COMMIT keeps one backend', async (t) => {
  const frames = [
    queryMsg('begin'),
    extendedQuery('insert into wire_copy values ($1::int, $2) returning a, b, pg_backend_pid()', ['100', 'tx']),
    extendedQuery('select b, pg_backend_pid() from wire_copy where a = 100'),
    queryMsg('delete from wire_copy where a = 100; commit'),
  ];
  const msgs = await pipeline(t, viaSluice, frames, 4);
  t.equal(statusesOf(msgs), 'TTTI', 'inside the transaction until COMMIT');
  const rows = rowsOf(msgs);
  t.same(
    rows.map((r) => r.slice(0, -1)),
    [['100', 'tx'], ['tx']],
    'the insert is visible to the next batch',
  );
  t.equal(rows[0][2], rows[1][1], 'both batches ran on the same backend');
  assertReleased(t);
});

t.test('COPY FROM STDIN, COPY TO STDOUT and CopyFail over the simple protocol', async (t) => {
  const c = await wire(t);
  c.send(queryMsg('copy wire_copy (a, b) from stdin'));
  const start = await c.next();
  t.equal(start.type, 'G', 'CopyInResponse');
  c.send(copyData('1\tone\n2\ttwo\n'), copyData('3\tthree\n'), copyDone());
  const done = await c.untilReady();
  t.equal(typesOf(done), 'CZ');
  t.equal(commandTag(done[0]), 'COPY 3');
  assertReleased(t);

  c.send(queryMsg('copy (select a, b from wire_copy order by a) to stdout'));
  const out = await c.untilReady();
  t.equal(typesOf(out), 'HdddcCZ');
  t.same(
    out.filter((m) => m.type === 'd').map((m) => m.body.toString()),
    ['1\tone\n', '2\ttwo\n', '3\tthree\n'],
  );

  c.send(queryMsg('copy wire_copy (a, b) from stdin'));
  t.equal((await c.next()).type, 'G');
  c.send(copyData('4\tfour\n'), copyFail('client gave up'));
  const failed = await c.untilReady();
  t.equal(typesOf(failed), 'EZ');
  t.equal(errorFields(failed[0]).C, '57014');
  t.match(errorFields(failed[0]).M, /client gave up/);
  c.send(extendedQuery('select count(*) from wire_copy'));
  t.same(rowsOf(await c.untilReady()), [['3']], 'the failed COPY left nothing behind');
  assertReleased(t);
});

t.test('a FunctionCall is answered with FunctionCallResponse then ReadyForQuery', async (t) => {
  const c = await wire(t);
  c.send(functionCall(177, [int32(40), int32(2)])); // 177 = pg_catalog.int4pl(int4, int4)
  const msgs = await c.untilReady();
  t.equal(typesOf(msgs), 'VZ');
  t.equal(msgs[0].body.readInt32BE(0), 4, 'a 4-byte binary result');
  t.equal(msgs[0].body.readInt32BE(4), 42);
  c.send(functionCall(177, [int32(2147483647), int32(1)]));
  const overflow = await c.untilReady();
  t.equal(typesOf(overflow), 'EZ');
  t.equal(errorFields(overflow[0]).C, '22003', 'integer out of range, reported and recovered from');
  c.send(queryMsg('select 5'));
  t.same(rowsOf(await c.untilReady()), [['5']]);
  assertReleased(t);
});

t.test('the raw client logs in with SCRAM too, and the pipeline works the same', async (t) => {
  const scram = await startSluice(t, pg, { auth_type: 'scram-sha-256', default_pool_size: 1 });
  const c = await wire(t, scram.options('alice'));
  c.send(...THREE_BATCHES);
  const batches = splitAtReady(await c.untilReady(3));
  t.same(batches.map(typesOf), ['12TDCZ', '12TDCZ', '12TDCZ']);
  t.same(
    batches.map((b) => rowsOf(b)),
    [[['1']], [['x', '42']], [['alice', 't']]],
  );
});
