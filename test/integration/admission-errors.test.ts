// Proves each admission refusal reaches real drivers as the documented SQLSTATE and severity, and that the connection survives it.
import pg from 'pg';
import t from 'tap';
import { startTestPostgres, type TeardownHost } from '../helpers/postgres.js';
import { sendCancelRequest } from '../helpers/raw-client.js';
import { startSluice, type TestSluice } from '../helpers/sluice.js';
import { showTenants } from '../../lib/admin/console/show-isolation.js';
import { errorFields, execute, extendedQuery, flush, parse, bind, syncMsg, typesOf, WireClient } from '../helpers/wire.js';

type Failure = { code?: string; severity?: string; message: string };

const pgServer = await startTestPostgres(t);

async function connect(t: TeardownHost, sluice: TestSluice, user: 'alice' | 'carol' = 'alice'): Promise<pg.Client> {
  const c = new pg.Client(sluice.options(user));
  c.on('error', () => undefined); // Only FATALs would arrive here; each test checks the query results.
  await c.connect();
  t.teardown(() => c.end().catch(() => undefined));
  return c;
}

const failureOf = (p: Promise<unknown>): Promise<Failure | null> =>
  p.then(
    () => null,
    (e: Failure) => e,
  );

/** A client of alice's single-connection pool inside an open transaction: the only slot is held until it commits. */
async function holdTheSlot(t: TeardownHost, sluice: TestSluice): Promise<pg.Client> {
  const holder = await connect(t, sluice);
  await holder.query('begin');
  await holder.query('select 1');
  return holder;
}

async function until<T>(what: string, attempt: () => Promise<T | null>, timeoutMs = 5000): Promise<T> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const got = await attempt();
    if (got !== null) return got;
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

t.test('queue full: 53300 ERROR at once, naming tenant and class; the same connection works afterwards', async (t) => {
  const sluice = await startSluice(t, pgServer, { default_pool_size: 1, tenants: { alice: { max_queue: 1 } } });
  const holder = await holdTheSlot(t, sluice);
  const queued = (await connect(t, sluice)).query('select 2 as n');
  const refused = await connect(t, sluice);
  await until('the first waiter to be queued', async () =>
    sluice.pooler.scheduler.snapshots().get('app/alice')?.queued === 1 ? true : null,
  );
  const err = await failureOf(refused.query('select 3'));
  t.equal(err?.code, '53300');
  t.equal(err?.severity, 'ERROR');
  t.equal(err?.message, 'queue full: tenant "alice" class "default" already has the most transactions allowed waiting for app/alice');
  await holder.query('commit');
  t.same((await queued).rows, [{ n: 2 }], 'the queued transaction ran once the slot was free');
  t.same((await refused.query('select 4 as n')).rows, [{ n: 4 }], 'the refused connection runs its next query');
});

t.test("queue timeout: 53300 ERROR after the tenant's queue_timeout, naming tenant, class and time waited", async (t) => {
  const sluice = await startSluice(t, pgServer, { default_pool_size: 1, tenants: { alice: { queue_timeout: 0.3 } } });
  const holder = await holdTheSlot(t, sluice);
  const waiter = await connect(t, sluice);
  const started = performance.now();
  const err = await failureOf(waiter.query('select 2'));
  const waited = performance.now() - started;
  t.equal(err?.code, '53300');
  t.equal(err?.severity, 'ERROR');
  t.match(err?.message, /^query_wait_timeout: tenant "alice" class "default" waited (\d+) ms for a server connection to app\/alice$/);
  const reported = Number(/waited (\d+) ms/.exec(err?.message ?? '')?.[1]);
  t.ok(reported >= 300 && reported <= waited + 1, `the message reports the wait (${reported} ms; the client saw ${Math.round(waited)} ms)`);
  await holder.query('commit');
  t.same((await waiter.query('select 3 as n')).rows, [{ n: 3 }], 'the same connection works afterwards');
});

t.test('early reject: 53300 at once when the queue ahead outlasts the timeout; the waiters ahead stay queued', async (t) => {
  // One slot, 0.2 s estimated per transaction, 0.5 s timeout: the 4th waiter would wait ~0.6 s.
  const sluice = await startSluice(t, pgServer, {
    default_pool_size: 1,
    scheduler: { default_cost: 0.2 },
    tenants: { alice: { queue_timeout: 0.5 } },
  });
  const holder = await holdTheSlot(t, sluice);
  const queued: Promise<unknown>[] = [];
  for (let i = 1; i <= 3; i++) {
    queued.push((await connect(t, sluice)).query('select 1'));
    await until(`waiter ${i} to be queued`, async () => (sluice.pooler.scheduler.snapshots().get('app/alice')?.queued === i ? true : null));
  }
  const refused = await connect(t, sluice);
  const err = await failureOf(refused.query('select 2'));
  t.equal(err?.code, '53300');
  t.equal(err?.severity, 'ERROR');
  t.equal(
    err?.message,
    'queue too long: tenant "alice" class "default" would wait about 600 ms for app/alice, more than its queue timeout of 500 ms, so it was refused at once',
  );
  const snap = sluice.pooler.scheduler.snapshots().get('app/alice')!;
  t.equal(snap.queued, 3, 'refused before anyone ahead of it timed out');
  t.equal(snap.rejections.early, 1, 'counted as an early rejection');
  const tenants = showTenants(sluice.pooler.admin);
  const early = tenants.columns.findIndex((c) => c.name === 'rejected_early');
  t.equal(tenants.rows.find((r) => r.includes('alice'))?.[early], 1, 'and shown by SHOW TENANTS');
  await holder.query('commit');
  await Promise.all(queued);
  t.same((await refused.query('select 3 as n')).rows, [{ n: 3 }], 'the refused connection runs its next query');

  // Control: the same queue with early_reject off waits instead.
  const off = await startSluice(t, pgServer, {
    default_pool_size: 1,
    scheduler: { default_cost: 0.2, early_reject: false },
    tenants: { alice: { queue_timeout: 0.5 } },
  });
  const holder2 = await holdTheSlot(t, off);
  const late: Promise<Failure | null>[] = [];
  for (let i = 1; i <= 4; i++) {
    late.push(failureOf((await connect(t, off)).query('select 1')));
    await until(`control waiter ${i} queued`, async () => (off.pooler.scheduler.snapshots().get('app/alice')?.queued === i ? true : null));
  }
  await holder2.query('commit');
  t.same(
    (await Promise.all(late)).map((f) => f?.code ?? 'ok'),
    ['ok', 'ok', 'ok', 'ok'],
    'with early_reject off all four wait and run',
  );
});

t.test('rate limit in reject mode: the 2nd immediate transaction gets 53400 ERROR; a token later the connection works', async (t) => {
  const sluice = await startSluice(t, pgServer, { tenants: { alice: { rate: { per_second: 1, burst: 1, mode: 'reject' } } } });
  const c = await connect(t, sluice);
  t.same((await c.query('select 1 as n')).rows, [{ n: 1 }], 'the first transaction takes the only token');
  const err = await failureOf(c.query('select $1::int as n', [2]));
  t.equal(err?.code, '53400', 'a parameterized (extended protocol) query is refused too');
  t.equal(err?.severity, 'ERROR');
  t.equal(err?.message, 'rate limit: tenant "alice" class "default" is over its transactions-per-second limit for app/alice');
  const rows = await until('a token to be refilled', async () => {
    const r = await c.query('select 3 as n').catch((e: Failure) => {
      if (e.code !== '53400') throw e;
      return null;
    });
    return r?.rows ?? null;
  });
  t.same(rows, [{ n: 3 }], 'the same connection runs once the bucket refills');
});

t.test('limit 0: every transaction is refused with 53400 ERROR until a reload raises the limit', async (t) => {
  const sluice = await startSluice(t, pgServer, { tenants: { carol: { limit: 0 } } });
  const c = await connect(t, sluice, 'carol');
  for (const sql of ['select 1', 'begin']) {
    const err = await failureOf(c.query(sql));
    t.equal(err?.code, '53400', sql);
    t.equal(err?.severity, 'ERROR');
    t.equal(err?.message, 'limit: tenant "carol" class "default" may not start transactions on app/carol (its slot limit is 0)');
  }
  t.same((await (await connect(t, sluice, 'alice')).query('select 1 as n')).rows, [{ n: 1 }], 'other tenants are not affected');
  sluice.reload({ tenants: { carol: { limit: 1 } } });
  t.same((await c.query('select 2 as n')).rows, [{ n: 2 }], 'the same connection works after the reload');
});

t.test('a CancelRequest while queued: 57014 ERROR naming the wait, the transaction leaves the queue, the connection works', async (t) => {
  const sluice = await startSluice(t, pgServer, { default_pool_size: 1 });
  const holder = await holdTheSlot(t, sluice);
  const waiter = await connect(t, sluice);
  const pending = failureOf(waiter.query('select 2'));
  await until('the waiter to be queued', async () => (sluice.pooler.scheduler.snapshots().get('app/alice')?.queued === 1 ? true : null));
  const { processID, secretKey } = waiter as unknown as { processID: number; secretKey: number };
  await sendCancelRequest(sluice.port, processID, secretKey);
  const err = await pending;
  t.equal(err?.code, '57014');
  t.equal(err?.severity, 'ERROR');
  t.match(
    err?.message,
    /^canceling statement due to user request: tenant "alice" class "default" waited \d+ ms in the queue for app\/alice$/,
  );
  t.equal(sluice.pooler.scheduler.snapshots().get('app/alice')?.queued, 0, 'it left the queue');
  await holder.query('commit');
  t.same((await waiter.query('select 3 as n')).rows, [{ n: 3 }], 'the same connection works afterwards');
});

t.test('max_clients: the 3rd connection of a tenant gets FATAL 53300; once one leaves, a new one gets in', async (t) => {
  const sluice = await startSluice(t, pgServer, { tenants: { alice: { max_clients: 2 } } });
  const first = await connect(t, sluice);
  await connect(t, sluice);
  const third = new pg.Client(sluice.options('alice'));
  third.on('error', () => undefined);
  const err = await failureOf(third.connect());
  t.equal(err?.code, '53300');
  t.equal(err?.severity, 'FATAL');
  t.equal(err?.message, 'too many connections for tenant "alice" (max_clients=2)');
  t.same((await (await connect(t, sluice, 'carol')).query('select 1 as n')).rows, [{ n: 1 }], 'another tenant still connects');
  await first.end();
  const again = await until('a free client place', async () => {
    const c = new pg.Client(sluice.options('alice'));
    c.on('error', () => undefined);
    return c.connect().then(
      () => c,
      () => null,
    );
  });
  t.teardown(() => again.end().catch(() => undefined));
  t.same((await again.query('select 1 as n')).rows, [{ n: 1 }]);
});

t.test(
  'extended protocol: a refused Parse/Bind/Execute/Sync gets ErrorResponse then ReadyForQuery; input is skipped until Sync',
  async (t) => {
    const sluice = await startSluice(t, pgServer, { tenants: { carol: { limit: 0 } } });
    const o = sluice.options('carol');
    const wire = await WireClient.connect({ host: o.host, port: o.port, user: o.user, password: o.password, database: o.database });
    t.teardown(() => wire.close());

    wire.send(extendedQuery('select 1'));
    const batch = await wire.untilReady();
    t.equal(typesOf(batch), 'EZ', 'one ErrorResponse, then ReadyForQuery');
    t.match(errorFields(batch[0]!), { S: 'ERROR', C: '53400' });

    // Without a Sync the refusal comes at once, and the rest of the batch is dropped until the client syncs.
    wire.send(parse('select 2'), bind(), execute(), flush());
    const early = await wire.next();
    t.equal(early.type, 'E', 'refused before any Sync');
    wire.send(bind(), execute(), syncMsg());
    t.equal(typesOf(await wire.untilReady()), 'Z', 'the Bind/Execute after the refusal are skipped; Sync gets ReadyForQuery');

    sluice.reload({ tenants: { carol: { limit: 1 } } });
    wire.send(extendedQuery('select 3'));
    t.equal(typesOf(await wire.untilReady()), '12TDCZ', 'the same connection runs the next batch');
  },
);
