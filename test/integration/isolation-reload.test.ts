// Proves on real Postgres that reloading tenant weights shifts the split of a busy budget at once, without dropping clients or server connections.
import pg from 'pg';
import t from 'tap';
import { ConfigError } from '../../lib/config/schema.js';
import { APP_DB, ROLES, startTestPostgres, type TeardownHost } from '../helpers/postgres.js';
import { startSluice, type TestSluice } from '../helpers/sluice.js';

const pgServer = await startTestPostgres(t);

/**
 * Every client logs in to Postgres as alice, so both tenants (alice and carol, by client user) share one
 * pool of 4 server connections: its budget. That keeps the server connections a fixed set to watch.
 */
function sharedPool(): Record<string, unknown> {
  return {
    default_pool_size: 4,
    databases: { [APP_DB]: { host: pgServer.host, port: pgServer.port, dbname: APP_DB, user: 'alice', password: ROLES.alice.password } },
  };
}

const SQL = 'select pg_sleep(0.02)';
const WINDOW_MS = 2000;

interface Tenant {
  done: number;
  errors: unknown[];
}

/** `n` clients of `user` running SQL back to back until stopped; counts completed transactions. */
async function backlog(t: TeardownHost, sluice: TestSluice, user: 'alice' | 'carol', n: number) {
  const conns = await Promise.all(
    Array.from({ length: n }, async () => {
      const c = new pg.Client(sluice.options(user));
      const state = { ended: false };
      c.on('end', () => (state.ended = true));
      c.on('error', () => undefined);
      await c.connect();
      t.teardown(() => c.end().catch(() => undefined));
      return { c, state };
    }),
  );
  const tenant: Tenant = { done: 0, errors: [] };
  let running = true;
  const loops = conns.map(async ({ c }) => {
    while (running) {
      await c.query(SQL).then(
        () => tenant.done++,
        (e: unknown) => tenant.errors.push(e),
      );
    }
  });
  return {
    tenant,
    conns,
    async stop() {
      running = false;
      await Promise.all(loops);
    },
  };
}

async function until(what: string, check: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!check()) {
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function serverPids(): Promise<number[]> {
  const rows = await pgServer.query(`select pid from pg_stat_activity where usename = 'alice' and datname = $1 order by pid`, [APP_DB]);
  return rows.map((r) => r.pid as number);
}

/** alice's share of the transactions both tenants completed during the next `ms`. */
async function aliceShare(a: Tenant, c: Tenant, ms: number): Promise<{ share: number; alice: number; carol: number }> {
  const [a0, c0] = [a.done, c.done];
  await new Promise((r) => setTimeout(r, ms));
  const alice = a.done - a0;
  const carol = c.done - c0;
  return { share: alice / (alice + carol), alice, carol };
}

t.test('a weight reload shifts the split of a busy budget from 1:1 to 4:1; no client or server connection is dropped', async (t) => {
  const sluice = await startSluice(t, pgServer, sharedPool());
  const alice = await backlog(t, sluice, 'alice', 8);
  const carol = await backlog(t, sluice, 'carol', 8);
  // carol joined later, so the burst clamp lets her run up to 1 slot-second (50 transactions) ahead of
  // her share first; measure once both are past that.
  await until('both tenants to be past their start', () => alice.tenant.done >= 100 && carol.tenant.done >= 100);
  const pidsBefore = await serverPids();
  t.equal(pidsBefore.length, 4, 'the shared pool holds its 4 server connections');

  const before = await aliceShare(alice.tenant, carol.tenant, WINDOW_MS);
  t.ok(
    before.share > 0.45 && before.share < 0.55,
    `weights 1:1: alice got ${(before.share * 100).toFixed(0)}% (${before.alice} vs ${before.carol} transactions)`,
  );

  sluice.reload({ tenants: { alice: { weight: 4 } } });
  const after = await aliceShare(alice.tenant, carol.tenant, WINDOW_MS);
  t.ok(
    after.share >= 0.7,
    `weights 4:1 from the reload on: alice got ${(after.share * 100).toFixed(0)}% (${after.alice} vs ${after.carol}), expected ~80%`,
  );

  await Promise.all([alice.stop(), carol.stop()]);
  t.same([...alice.tenant.errors, ...carol.tenant.errors], [], 'no transaction failed across the reload');
  t.same(await serverPids(), pidsBefore, 'the same 4 server connections, none closed or opened');
  const all = [...alice.conns, ...carol.conns];
  t.equal(all.filter(({ state }) => state.ended).length, 0, 'no client connection was dropped');
  const answers = await Promise.all(all.map(({ c }) => c.query('select 1 as n').then((r) => r.rows[0].n)));
  t.same(
    answers,
    all.map(() => 1),
    'every client still works',
  );
});

t.test('a config whose reservations exceed the budget is refused with the numbers; the running pooler is unaffected', async (t) => {
  const sluice = await startSluice(t, pgServer, sharedPool());
  const c = new pg.Client(sluice.options('carol'));
  c.on('error', () => undefined);
  await c.connect();
  t.teardown(() => c.end().catch(() => undefined));
  const running = sluice.pooler.config;

  let refused: unknown = null;
  try {
    sluice.reload({ tenants: { alice: { reservation: 2 }, carol: { reservation: 2 } } });
  } catch (err) {
    refused = err;
  }
  t.ok(refused instanceof ConfigError, 'the parser refuses it');
  t.same((refused as ConfigError).problems, [
    "tenants: reservations add up to 4 slots, more than databases.app's budget of 4 minus headroom_min 1",
  ]);
  t.equal(sluice.pooler.config, running, 'the pooler keeps the snapshot it had');
  t.same((await c.query('select 1 as n')).rows, [{ n: 1 }], 'and keeps serving');
});

t.test('a reload that turns per-pool budgets into a shared one keeps queued and running transactions going', async (t) => {
  const sluice = await startSluice(t, pgServer, { default_pool_size: 1, query_wait_timeout: 3 });
  const connect = async (): Promise<pg.Client> => {
    const c = new pg.Client(sluice.options('alice'));
    c.on('error', () => undefined);
    await c.connect();
    t.teardown(() => c.end().catch(() => undefined));
    return c;
  };
  const holder = await connect();
  await holder.query('begin');
  await holder.query('select 1');
  const waiter = await connect();
  const queued = waiter.query('select 2 as n');
  await until('the waiter to be queued', () => sluice.pooler.scheduler.waitingCount([...sluice.pooler.pools.values()][0]!) === 1);

  sluice.reload({ max_server_connections: 1 });
  await holder.query('commit');
  t.same((await queued).rows, [{ n: 2 }], 'the transaction queued before the reload runs once the slot is free');
  const after = await connect();
  const both = await Promise.all([holder.query('select 3 as n'), waiter.query('select 4 as n'), after.query('select 5 as n')]);
  t.same(
    both.map((r) => r.rows[0].n),
    [3, 4, 5],
    'old and new connections run',
  );
  t.ok(sluice.pooler.scheduler.snapshots().has('app'), 'under the shared budget of database app');
});

t.test('a reload switches each zero-config piece: the learned lane, its elasticity and the adaptive limit', async (t) => {
  const sluice = await startSluice(t, pgServer, { max_server_connections: 4, default_pool_size: 4 });
  const c = await sluice.connect('alice');
  const slow = 'select pg_sleep(0.3)';
  const classOf = (cls: string) =>
    sluice.pooler.scheduler
      .snapshots()
      .get('app')
      ?.tenants.find((x) => x.tenant === 'alice')
      ?.classes.find((k) => k.cls === cls);
  const learned = async () => {
    for (let i = 0; i < 50 && !classOf('long'); i++) await c.query(slow);
  };
  await learned();
  t.equal(classOf('long')?.elastic, true, 'under the defaults a slow statement is learned into an elastic long class');
  t.type(sluice.pooler.scheduler.snapshots().get('app')!.adaptive, 'object', 'and the budget has an adaptive limit');

  sluice.reload({ scheduler: { long_threshold: 0, adaptive_limit: false } });
  t.equal(sluice.pooler.scheduler.snapshots().get('app')!.adaptive, undefined, 'adaptive_limit: false drops the adaptive limit');
  const defaultBefore = classOf('default')?.slotMs ?? 0;
  const longBefore = classOf('long')?.slotMs ?? 0;
  await c.query(slow);
  t.ok((classOf('default')?.slotMs ?? 0) > defaultBefore, 'long_threshold: 0: the learned statement runs in default again');
  t.equal(classOf('long')?.slotMs ?? 0, longBefore, 'and not in long');

  sluice.reload({ scheduler: { long_elastic: false } });
  await c.query(slow);
  t.equal(classOf('long')?.elastic, false, 'long_elastic: false: the learned class is long-lane only');
  t.type(sluice.pooler.scheduler.snapshots().get('app')!.adaptive, 'object', 'the adaptive limit is back on');
  sluice.reload({});
  await c.query(slow);
  t.equal(classOf('long')?.elastic, true, 'back to the defaults');
});
