// Proves LISTEN/NOTIFY in transaction mode without pinning: one shared listener connection fans notifications out to idle clients, UNLISTEN stops them, transactions defer them, extended-protocol LISTEN (postgres.js, pg) answers as Postgres does, and a killed listener backend recovers.
import t, { type Test } from 'tap';
import pgLib from 'pg';
import postgres from 'postgres';
import { startTestPostgres, APP_DB } from '../helpers/postgres.js';
import { startSluice, type TestSluice } from '../helpers/sluice.js';
import { captureLog } from '../helpers/log-capture.js';
import { consoleClient } from '../helpers/console.js';
import {
  WireClient,
  bind,
  commandTag,
  describeStatement,
  execute,
  extendedQuery,
  parse,
  queryMsg,
  statusesOf,
  syncMsg,
  typesOf,
} from '../helpers/wire.js';

const pg = await startTestPostgres(t);
await pg.query(
  'drop table if exists ln_counter; create table ln_counter (id int primary key, n int); insert into ln_counter values (1, 0)',
);
await pg.query('grant all on ln_counter to alice');

interface Listener {
  client: pgLib.Client;
  got: pgLib.Notification[];
  /** Resolves with the next notification (on any channel). */
  next(): Promise<pgLib.Notification>;
}

async function listener(t: Test, sluice: TestSluice, ...channels: string[]): Promise<Listener> {
  const client = new pgLib.Client(sluice.options('alice'));
  await client.connect();
  t.teardown(() => client.end().catch(() => undefined));
  const got: pgLib.Notification[] = [];
  let wake: ((n: pgLib.Notification) => void) | null = null;
  client.on('notification', (n) => {
    got.push(n);
    const w = wake;
    wake = null;
    w?.(n);
  });
  for (const c of channels) await client.query(`LISTEN ${c}`);
  let seen = 0;
  return {
    client,
    got,
    next: () => (seen < got.length ? Promise.resolve(got[seen++]) : new Promise((r) => (wake = (n) => (seen++, r(n))))),
  };
}

async function until(cond: () => boolean, what: string, ms = 15_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

async function eventually(cond: () => Promise<boolean>, what: string, ms = 15_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

function within<T>(p: Promise<T>, what: string, ms = 10_000): Promise<T> {
  return Promise.race([p, new Promise<T>((_, reject) => setTimeout(() => reject(new Error(`no ${what} within ${ms} ms`)), ms))]);
}

/** Clients running short transactions in a loop until stopped: far more than the pool has connections. */
function busyClients(t: Test, sluice: TestSluice, n: number): { stop(): Promise<number> } {
  let running = true;
  const loops = Array.from({ length: n }, async () => {
    const c = new pgLib.Client(sluice.options('alice'));
    await c.connect();
    let done = 0;
    while (running) {
      await c.query('begin');
      await c.query('update ln_counter set n = n + 1 where id = 1');
      await c.query('commit');
      done++;
    }
    await c.end();
    return done;
  });
  t.teardown(() => void (running = false));
  return {
    stop: async () => {
      running = false;
      return (await Promise.all(loops)).reduce((a, b) => a + b, 0);
    },
  };
}

const listenerBackends = async () =>
  (await pg.query(`select pid from pg_stat_activity where application_name = 'sluice notify listener'`)).map((r) => r.pid);

t.test('two clients LISTEN, a third NOTIFYs: both get it while many more clients than connections run transactions', async (t) => {
  const sluice = await startSluice(t, pg, { default_pool_size: 2 });
  const one = await listener(t, sluice, 'ln_jobs');
  const two = await listener(t, sluice, 'ln_jobs');
  const busy = busyClients(t, sluice, 12);
  const notifier = new pgLib.Client(sluice.options('alice'));
  await notifier.connect();
  t.teardown(() => notifier.end());
  await notifier.query(`NOTIFY ln_jobs, 'payload-1'`);
  const [a, b] = await within(Promise.all([one.next(), two.next()]), 'notifications');
  const transactions = await busy.stop();
  t.ok(transactions > 0, `${transactions} transactions ran meanwhile`);
  for (const n of [a, b]) t.match(n, { channel: 'ln_jobs', payload: 'payload-1' });
  t.equal(sluice.pooler.pools.get(`${APP_DB}\0alice`)?.pinned.size, 0, 'no client is pinned');
  t.equal((await listenerBackends()).length, 1, 'one shared listener backend');
  t.same(
    (await one.client.query('select count(*)::int as n from pg_listening_channels()')).rows,
    [{ n: 0 }],
    'pooled backends listen on nothing',
  );
});

t.test('UNLISTEN stops delivery; UNLISTEN * and leaving drop the rest; the listener closes when nobody listens', async (t) => {
  const sluice = await startSluice(t, pg, { default_pool_size: 2 });
  const one = await listener(t, sluice, 'ln_a', 'ln_b');
  const two = await listener(t, sluice, 'ln_a');
  t.equal((await one.client.query('UNLISTEN ln_a')).command, 'UNLISTEN');
  await pg.query(`select pg_notify('ln_a', 'x'), pg_notify('ln_b', 'y')`);
  t.match(await within(two.next(), 'ln_a at two'), { channel: 'ln_a', payload: 'x' });
  t.match(await within(one.next(), 'ln_b at one'), { channel: 'ln_b', payload: 'y' }, 'one gets ln_b first: ln_a was not delivered');
  t.equal(one.got.length, 1);
  await one.client.query('UNLISTEN *');
  await two.client.end();
  await until(() => sluice.pooler.notifyHub.stats().length === 0, 'the hub to drop the listener');
  await eventually(async () => (await listenerBackends()).length === 0, 'the listener backend to exit');
  t.pass('the listener connection is gone');
});

t.test('a notification waits while its client is inside a transaction and follows its ReadyForQuery', async (t) => {
  const sluice = await startSluice(t, pg, { default_pool_size: 2 });
  const w = await WireClient.connect(sluice.options('alice'));
  t.teardown(() => w.close());
  const idle = await listener(t, sluice, 'ln_tx');
  w.send(queryMsg('LISTEN ln_tx'));
  t.equal(typesOf(await w.untilReady()), 'CZ');
  w.send(queryMsg('BEGIN'));
  t.equal(statusesOf(await w.untilReady()), 'T');
  await pg.query(`notify ln_tx, 'later'`);
  await within(idle.next(), 'the idle listener to get it');
  w.send(queryMsg('select 1'));
  const inTx = await w.untilReady();
  t.notOk(
    inTx.some((m) => m.type === 'A'),
    'nothing delivered inside the transaction',
  );
  t.equal(w.buffered, 0, 'and nothing after its ReadyForQuery either');
  w.send(queryMsg('COMMIT'));
  const done = await w.untilReady();
  t.equal(statusesOf(done), 'I');
  const note = await w.next();
  t.equal(note.type, 'A', 'delivered right after the transaction ended');
  t.match(note.body.toString('utf8'), /ln_tx\0later\0$/);
});

t.test('LISTEN inside a transaction block and several LISTENs in one Query get the right replies', async (t) => {
  const sluice = await startSluice(t, pg, { default_pool_size: 1 });
  const w = await WireClient.connect(sluice.options('alice'));
  t.teardown(() => w.close());
  w.send(queryMsg('BEGIN'), queryMsg('select 1'));
  await w.untilReady(2);
  w.send(queryMsg('LISTEN ln_in_tx'));
  const r = await w.untilReady();
  t.equal(typesOf(r), 'CZ');
  t.equal(statusesOf(r), 'T', 'still inside the transaction');
  w.send(queryMsg('COMMIT'));
  await w.untilReady();
  w.send(queryMsg('LISTEN ln_m1; LISTEN "LN_M2"; UNLISTEN ln_in_tx'));
  const multi = await w.untilReady();
  t.same(multi.filter((m) => m.type === 'C').map(commandTag), ['LISTEN', 'LISTEN', 'UNLISTEN']);
  await pg.query(`notify "LN_M2", 'quoted'`);
  const note = await w.next();
  t.match(note.body.toString('utf8'), /LN_M2\0quoted\0$/, 'quoted channel names keep their case');
});

t.test('killing the listener backend: Sluice reconnects, re-subscribes, logs the gap, and delivery resumes', async (t) => {
  const captured = captureLog('warn');
  const sluice = await startSluice(t, pg, { default_pool_size: 2 }, { log: captured.log });
  const one = await listener(t, sluice, 'ln_kill');
  const two = await listener(t, sluice, 'ln_kill');
  const [before] = sluice.pooler.notifyHub.stats();
  t.ok(before.connected && before.pid > 0, 'a listener connection');
  t.same(await listenerBackends(), [before.pid]);
  await pg.query('select pg_terminate_backend($1)', [before.pid]);
  await until(() => {
    const [s] = sluice.pooler.notifyHub.stats();
    return s !== undefined && s.pid !== before.pid && s.gaps === 1 && s.listening === 1;
  }, 'the listener to reconnect');
  await until(() => captured.lines().some((l) => /reconnected/.test(l.msg)), 'the gap log line');
  const gap = captured.lines().find((l) => /reconnected/.test(l.msg))!;
  t.match(gap, { pool: `${APP_DB}/alice`, channels: 1 }, 'the gap is logged with its pool and channels');
  t.type(gap.gapMs, 'number');
  await pg.query(`notify ln_kill, 'after'`);
  const [a, b] = await within(Promise.all([one.next(), two.next()]), 'notifications after the reconnect');
  t.match(a, { channel: 'ln_kill', payload: 'after' });
  t.match(b, { channel: 'ln_kill', payload: 'after' });
});

t.test(
  'postgres.js sql.listen (extended protocol) goes through the hub: delivered while busy clients share the pool, nothing pinned',
  async (t) => {
    const sluice = await startSluice(t, pg, { default_pool_size: 2, session_state: 'pin', admin_users: ['carol'] });
    const sql = postgres({ ...sluice.options('alice'), username: 'alice', max: 2, onnotice: () => undefined });
    t.teardown(() => sql.end({ timeout: 1 }));
    const got: string[] = [];
    let wake: (() => void) | null = null;
    const heard = (channel: string) => (payload: string) => {
      got.push(`${channel}:${payload}`);
      wake?.();
    };
    const one = await sql.listen('ln_pgjs', heard('ln_pgjs'));
    await sql.listen('ln_pgjs2', heard('ln_pgjs2'));
    const pool = sluice.pooler.pools.get(`${APP_DB}\0alice`)!;
    const busy = busyClients(t, sluice, 8);
    await eventually(async () => sluice.pooler.notifyHub.stats()[0]?.listening === 2, 'the hub to listen on both channels');
    t.equal(pool.pinned.size, 0, 'the listen connection is not pinned');
    const admin = await consoleClient(t, sluice, 'carol');
    const pools = (await admin.query('SHOW POOLS')).rows.filter((r) => r.database === APP_DB && r.user === 'alice');
    t.same(
      pools.map((r) => Number(r.sv_pinned)),
      [0],
      'SHOW POOLS: sv_pinned 0 while listening',
    );
    await sql.notify('ln_pgjs', 'from postgres.js');
    while (got.length === 0) await within(new Promise<void>((r) => (wake = r)), 'the notification');
    t.same(got, ['ln_pgjs:from postgres.js']);
    await one.unlisten();
    await pg.query(`select pg_notify('ln_pgjs', 'after unlisten'), pg_notify('ln_pgjs2', 'still here')`);
    while (got.length === 1) await within(new Promise<void>((r) => (wake = r)), 'the second notification');
    t.same(got, ['ln_pgjs:from postgres.js', 'ln_pgjs2:still here'], 'nothing on the channel it unlistened');
    t.ok((await busy.stop()) > 0, 'transactions ran meanwhile');
    t.equal(pool.pinned.size, 0, 'still nothing pinned');
  },
);

t.test('pg with an extended-protocol LISTEN (queryMode extended) gets its notifications from the hub', async (t) => {
  const sluice = await startSluice(t, pg, { default_pool_size: 1 });
  const l = await listener(t, sluice);
  const r = await l.client.query({ text: 'LISTEN ln_pg_ext', queryMode: 'extended' } as pgLib.QueryConfig);
  t.equal(r.command, 'LISTEN');
  t.equal(sluice.pooler.pools.get(`${APP_DB}\0alice`)?.pinned.size, 0);
  const other = new pgLib.Client(sluice.options('alice'));
  await other.connect();
  t.teardown(() => other.end());
  t.same(
    (await other.query('select count(*)::int as n from pg_listening_channels()')).rows,
    [{ n: 0 }],
    'the shared backend listens on nothing',
  );
  await other.query(`select pg_notify('ln_pg_ext', 'extended')`);
  t.match(await within(l.next(), 'the notification'), { channel: 'ln_pg_ext', payload: 'extended' });
  t.equal((await l.client.query({ text: 'UNLISTEN *', queryMode: 'extended' } as pgLib.QueryConfig)).command, 'UNLISTEN');
  await until(() => sluice.pooler.notifyHub.stats().length === 0, 'the hub to let go of the channel');
});

/** Replies of a message sequence, as type letters and command tags, so two servers' answers can be compared. */
async function replies(w: WireClient, batches: Buffer[][]): Promise<string[]> {
  const out: string[] = [];
  for (const b of batches) {
    w.send(...b);
    const all = Buffer.concat(b);
    let requests = 0;
    for (let at = 0; at < all.length; at += 1 + all.readInt32BE(at + 1)) if (all[at] === 0x53 || all[at] === 0x51) requests++;
    for (const m of await w.untilReady(requests))
      out.push(m.type === 'C' ? `C:${commandTag(m)}` : m.type === 'Z' ? `Z:${statusesOf([m])}` : m.type);
  }
  return out;
}

t.test(
  'extended LISTEN answers exactly as Postgres does, in a pipeline and in transaction blocks, where it counts at commit',
  async (t) => {
    const sluice = await startSluice(t, pg, { default_pool_size: 1, session_state: 'reject' });
    const batches = (suffix: string): Buffer[][] => [
      [extendedQuery('select 1'), extendedQuery(`LISTEN ln_pipe${suffix}`), extendedQuery('select 2')],
      [
        parse(`LISTEN ln_named${suffix}`, 'ln_stmt'),
        describeStatement('ln_stmt'),
        bind([], { statement: 'ln_stmt' }),
        execute(),
        syncMsg(),
      ],
      [queryMsg('BEGIN'), extendedQuery(`LISTEN ln_rolled${suffix}`), queryMsg('ROLLBACK')],
      [queryMsg('BEGIN'), extendedQuery(`LISTEN ln_committed${suffix}`), extendedQuery('select 3')],
      [queryMsg('COMMIT')],
    ];
    const direct = await WireClient.connect({ host: pg.host, port: pg.port, user: 'bob', password: 'bob-secret', database: APP_DB });
    t.teardown(() => direct.close());
    const expected = await replies(direct, batches('_d'));
    const o = sluice.options('bob');
    const w = await WireClient.connect({ host: o.host, port: o.port, user: 'bob', password: 'bob-secret', database: APP_DB });
    t.teardown(() => w.close());
    t.same(await replies(w, batches('')), expected, 'reply by reply as Postgres itself');
    t.equal(sluice.pooler.pools.get(`${APP_DB}\0bob`)?.pinned.size, 0, 'nothing pinned, even under reject');
    await until(() => sluice.pooler.notifyHub.stats()[0]?.listening === 3, 'the hub to take the three committed channels');
    await pg.query(`select pg_notify('ln_rolled', 'no'), pg_notify('ln_committed', 'yes')`);
    const note = await within(w.next(), 'a notification');
    t.match(note.body.toString('utf8'), /ln_committed\0yes\0$/, 'the rolled-back LISTEN never took effect');
    w.send(queryMsg('select count(*) from pg_listening_channels()'));
    const row = (await w.untilReady()).find((m) => m.type === 'D')!;
    t.match(row.body.toString('utf8'), /0$/, 'the server connection listens on nothing');
  },
);
