// Proves postgres.js (prepare: false) works through Sluice: pipelined bursts over a small pool, transactions, and recovery from errors.
import net from 'node:net';
import t, { type Test } from 'tap';
import postgres from 'postgres';
import { startTestPostgres, APP_DB } from '../helpers/postgres.js';
import { startSluice, type TestSluice } from '../helpers/sluice.js';

const pg = await startTestPostgres(t);
await pg.query('create table pj_items (id int primary key, label text)');
await pg.query('grant all on pj_items to alice');
// A pool of 3 server connections under a postgres.js pool of 10 that pipelines on each of them.
const sluice = await startSluice(t, pg, { default_pool_size: 3 });

/** Calls onType with each message type byte of a stream; the first packet of a frontend stream (startup) has none. */
function typeScanner(onType: (type: string) => void, untypedFirst: boolean): (chunk: Buffer) => void {
  let buf = Buffer.alloc(0);
  let first = untypedFirst;
  return (chunk) => {
    buf = Buffer.concat([buf, chunk]);
    for (;;) {
      const head = first ? 0 : 1;
      if (buf.length < head + 4) return;
      const total = buf.readInt32BE(head) + head;
      if (buf.length < total) return;
      if (!first) onType(String.fromCharCode(buf[0]));
      first = false;
      buf = buf.subarray(total);
    }
  };
}

/** Deepest pipeline seen on any one connection: requests written (Query, Sync) minus ReadyForQuery read. */
interface PipelineDepth {
  max: number;
}

/** A socket factory for postgres.js that watches how many requests each connection has in flight. */
function probedSocket(depth: PipelineDepth): () => Promise<net.Socket> {
  return async () => {
    const s = net.connect(sluice.port, '127.0.0.1');
    await new Promise((resolve, reject) => s.once('connect', resolve).once('error', reject));
    let inFlight = 0;
    const sent = typeScanner((type) => {
      if (type === 'Q' || type === 'S') depth.max = Math.max(depth.max, ++inFlight);
    }, true);
    const write = s.write.bind(s) as (chunk: Buffer, cb?: () => void) => boolean;
    s.write = ((chunk: Buffer, cb?: () => void) => (sent(Buffer.from(chunk)), write(chunk, cb))) as typeof s.write;
    let loggedIn = false; // The first ReadyForQuery ends the login and answers no request.
    s.on(
      'data',
      typeScanner((type) => void (type === 'Z' && (loggedIn ? inFlight-- : (loggedIn = true))), false),
    );
    return s;
  };
}

function connect(t: Test, depth: PipelineDepth = { max: 0 }) {
  // `socket` is a documented option (README "Custom socket") that the typings lack, hence no inline literal.
  const options = { ...sluice.options('alice'), max: 10, prepare: false, onnotice: () => undefined, socket: probedSocket(depth) };
  const sql = postgres(options);
  t.teardown(() => sql.end({ timeout: 5 }));
  return sql;
}

/** postgres.js only pipelines parameterless queries (with parameters it describes first and waits); runtime-only option. */
const EXTENDED_NO_PARAMS = { simple: false } as { prepare?: boolean };

function poolTotal(s: TestSluice): number {
  return s.pooler.pools.get(`${APP_DB}\0alice`)?.total ?? 0;
}

/** Query i in one of three shapes: parameters (describe first), pipelined extended, pipelined simple. */
function nth(sql: ReturnType<typeof connect>, i: number) {
  const maybe = i % 4 === 0 ? null : i;
  if (i % 10 === 0) return sql`select ${i}::int as n, ${`q${i}`}::text as tag, ${maybe}::int as maybe`;
  const text = `select ${i}::int as n, 'q${i}'::text as tag, ${maybe ?? 'null'}::int as maybe`;
  return i % 2 === 1 ? sql.unsafe(text, [], EXTENDED_NO_PARAMS) : sql.unsafe(text);
}

t.test('200 concurrent queries on a max-10 postgres.js pool over 3 server connections', async (t) => {
  const depth = { max: 0 };
  const sql = connect(t, depth);
  let peak = 0;
  const results = await Promise.all(
    Array.from({ length: 200 }, async (_, i) => {
      const rows = await nth(sql, i);
      peak = Math.max(peak, poolTotal(sluice));
      return { i, rows: [...rows] };
    }),
  );
  const wrong = results.filter(({ i, rows }) => {
    const r = rows[0];
    return rows.length !== 1 || r.n !== i || r.tag !== `q${i}` || r.maybe !== (i % 4 === 0 ? null : i);
  });
  t.same(wrong, [], 'every one of the 200 results is its own');
  t.ok(depth.max > 1, `postgres.js really pipelined: up to ${depth.max} requests in flight on one connection`);
  t.ok(peak > 0 && peak <= 3, `never more than 3 server connections (peak ${peak})`);
});

t.test('sql.begin commits a transaction that sees its own temp table', async (t) => {
  const sql = connect(t);
  const inside = await sql.begin(async (tx) => {
    await tx`create temp table pj_tmp (x int) on commit drop`;
    await tx`insert into pj_tmp values (10), (20), (30)`;
    await tx`insert into pj_items values (1, 'committed')`;
    const [pid1] = await tx`select pg_backend_pid() as pid`;
    const [sum] = await tx`select sum(x)::int as s, pg_backend_pid() as pid from pj_tmp`;
    return { s: sum.s, samePid: sum.pid === pid1.pid };
  });
  t.same(inside, { s: 60, samePid: true }, 'one backend for the whole transaction');
  t.same(
    (await pg.query('select label from pj_items where id = 1')).map((r) => r.label),
    ['committed'],
  );
});

t.test('a transaction runs while a burst of other queries pipelines around it', async (t) => {
  const sql = connect(t);
  const tx = sql.begin(async (tx) => {
    await tx`insert into pj_items values (2, 'concurrent')`;
    const [r] = await tx`select count(*)::int as n from pj_items where id = 2`;
    return r.n;
  });
  const burst = Promise.all(Array.from({ length: 100 }, async (_, i) => (await sql`select ${i}::int * 2 as d`)[0].d));
  t.equal(await tx, 1, 'the transaction sees its own insert');
  t.same(
    await burst,
    Array.from({ length: 100 }, (_, i) => i * 2),
  );
  t.same(
    (await pg.query('select label from pj_items where id = 2')).map((r) => r.label),
    ['concurrent'],
  );
});

t.test('an error, then recovery: plain and inside sql.begin', async (t) => {
  const sql = connect(t);
  await t.rejects(sql`select 1/0`, { code: '22012' });
  t.same([...(await sql`select 1 as one`)], [{ one: 1 }], 'the next query works');
  await t.rejects(
    sql.begin(async (tx) => {
      await tx`insert into pj_items values (3, 'doomed')`;
      await tx`select 1/0`;
    }),
    { code: '22012' },
  );
  const [{ n }] = await sql`select count(*)::int as n from pj_items where id = 3`;
  t.equal(n, 0, 'the failed transaction was rolled back');
  const again = await Promise.all(Array.from({ length: 30 }, async (_, i) => (await sql`select ${i}::int as n`)[0].n));
  t.same(
    again,
    Array.from({ length: 30 }, (_, i) => i),
    'a burst after the errors is all correct',
  );
});
