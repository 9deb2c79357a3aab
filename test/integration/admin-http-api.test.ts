// Proves the HTTP admin API on a running Sluice: probes, bearer-token auth, validation errors, and a live weight change that shifts two tenants' shares without pool churn.
import net from 'node:net';
import { PassThrough } from 'node:stream';
import pg from 'pg';
import t from 'tap';
import { APP_DB, ROLES, startTestPostgres, type TeardownHost } from '../helpers/postgres.js';
import { buildConfig, startSluice, type TestSluice } from '../helpers/sluice.js';
import { createLogger } from '../../lib/log.js';
import { Pooler } from '../../lib/pooler.js';
import { adminClient, tokenFile } from '../helpers/admin-http.js';

const pgServer = await startTestPostgres(t);
const TOKEN = 'api-test-token-8c2e9f';

/** Both tenants log in to Postgres as alice, so they share one pool of 4 server connections: a fixed set to watch. */
function sharedPool(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    default_pool_size: 4,
    databases: { [APP_DB]: { host: pgServer.host, port: pgServer.port, dbname: APP_DB, user: 'alice', password: ROLES.alice.password } },
    ...extra,
  };
}

async function withToken(t: TeardownHost, extra: Record<string, unknown> = {}): Promise<TestSluice> {
  return startSluice(
    t,
    pgServer,
    sharedPool({ admin_http: { listen_addr: '127.0.0.1', port: 0, token_file: tokenFile(t, TOKEN) }, ...extra }),
  );
}

/** A port nothing listens on: bound, then closed. */
async function deadPort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise((r) => s.close(r));
  return port;
}

t.test('probes need no token: /healthz answers, /readyz checks every database', async (t) => {
  const port = await deadPort();
  const sluice = await withToken(t, {
    databases: {
      [APP_DB]: { host: pgServer.host, port: pgServer.port, dbname: APP_DB },
      gone: { host: '127.0.0.1', port, dbname: 'gone' },
    },
  });
  const admin = adminClient(sluice.pooler);
  const health = await admin.get('/healthz');
  t.same([health.status, health.json], [200, { status: 'ok' }]);
  const ready = await admin.get('/readyz');
  t.equal(ready.status, 503, 'a database that cannot be reached makes Sluice not ready');
  t.equal(ready.json.databases[APP_DB], 'reachable');
  t.match(ready.json.databases.gone, /cannot connect to 127\.0\.0\.1:\d+: ECONNREFUSED/);

  const ok = await startSluice(t, pgServer, { admin_http: { listen_addr: '127.0.0.1', port: 0 } });
  const r = await adminClient(ok.pooler).get('/readyz');
  t.same([r.status, r.json], [200, { status: 'ready', listening: true, databases: { [APP_DB]: 'reachable' } }]);
});

t.test('with a token every other endpoint needs it; without one, only reads are served', async (t) => {
  const sluice = await withToken(t);
  const admin = adminClient(sluice.pooler);
  for (const path of ['/metrics', '/tenants', '/tenants/alice']) {
    const none = await admin.get(path);
    t.equal(none.status, 401, `${path} without a token`);
    t.equal(none.headers['www-authenticate'], 'Bearer realm="sluice"');
    t.equal(none.json.error.code, 'SLUICE_HTTP_UNAUTHORIZED');
    t.equal((await admin.get(path, 'wrong-token')).status, 401, `${path} with a wrong token`);
  }
  t.equal((await admin.put('/tenants/alice', { weight: 2 }, { token: 'wrong-token' })).status, 401, 'a write with a wrong token');
  t.equal((await admin.get('/tenants', TOKEN)).status, 200, 'the right token opens /tenants');
  const metrics = await admin.get('/metrics', TOKEN);
  t.equal(metrics.status, 200);
  t.match(metrics.headers['content-type'], /^text\/plain; version=0\.0\.4/);

  const open = await startSluice(t, pgServer, sharedPool({ admin_http: { listen_addr: '127.0.0.1', port: 0 } }));
  const ro = adminClient(open.pooler);
  t.equal((await ro.get('/tenants')).status, 200, 'no token configured: reads are open');
  t.equal((await ro.get('/metrics')).status, 200);
  const put = await ro.put('/tenants/alice', { weight: 2 });
  t.same([put.status, put.json.error.code], [403, 'SLUICE_HTTP_READ_ONLY'], 'and writes are refused');
  t.equal((await ro.del('/tenants/alice')).status, 403);
});

t.test('bad requests get a clear 4xx and change nothing', async (t) => {
  const sluice = await withToken(t, { tenants: { carol: { weight: 2, reservation: 1 } } });
  const admin = adminClient(sluice.pooler, TOKEN);
  const before = sluice.pooler.config;
  const cases: Array<[string, () => ReturnType<typeof admin.get>, number, string, string[]?]> = [
    [
      'a weight of -1',
      () => admin.put('/tenants/alice', { weight: -1 }),
      422,
      'SLUICE_HTTP_INVALID_TENANT',
      ['weight: expected a weight > 0, got -1'],
    ],
    ['an unknown field', () => admin.put('/tenants/alice', { wieght: 2 }), 422, 'SLUICE_HTTP_INVALID_TENANT', ['wieght: unknown setting']],
    [
      'a limit under the reservation',
      () => admin.put('/tenants/alice', { reservation: 2, limit: 1 }),
      422,
      'SLUICE_HTTP_INVALID_TENANT',
      ['limit: 1 is below its reservation 2'],
    ],
    [
      'reservations over the budget',
      () => admin.put('/tenants/alice', { reservation: 3 }),
      422,
      'SLUICE_HTTP_INVALID_TENANT',
      ["tenants: reservations add up to 4 slots, more than databases.app's budget of 4 minus headroom_min 1"],
    ],
    ['a list body', () => admin.put('/tenants/alice', [1]), 422, 'SLUICE_HTTP_INVALID_TENANT', ['body: expected a mapping, got a list']],
    ['broken JSON', () => admin.put('/tenants/alice', null, { raw: '{"weight": ' }), 400, 'SLUICE_HTTP_BAD_REQUEST'],
    [
      'a form body',
      () => admin.put('/tenants/alice', null, { raw: 'weight=2', contentType: 'application/x-www-form-urlencoded' }),
      415,
      'SLUICE_HTTP_UNSUPPORTED_MEDIA_TYPE',
    ],
    [
      'a huge body',
      () => admin.put('/tenants/alice', null, { raw: `{"weight": 1, "x": "${'y'.repeat(70_000)}"}` }),
      413,
      'SLUICE_HTTP_BODY_TOO_LARGE',
    ],
    ['POST /tenants', () => admin.send('POST', '/tenants'), 405, 'SLUICE_HTTP_METHOD_NOT_ALLOWED'],
    ['an unknown path', () => admin.get('/tenant'), 404, 'SLUICE_HTTP_NOT_FOUND'],
    ['an unknown tenant', () => admin.get('/tenants/nobody'), 404, 'SLUICE_HTTP_UNKNOWN_TENANT'],
    ['DELETE of a file tenant', () => admin.del('/tenants/carol'), 404, 'SLUICE_HTTP_NO_OVERRIDE'],
    ['bad percent-encoding', () => admin.get('/tenants/%E0%A4%A'), 400, 'SLUICE_HTTP_BAD_REQUEST'],
  ];
  for (const [what, call, status, code, problems] of cases) {
    const r = await call();
    t.equal(r.status, status, `${what}: HTTP ${status}`);
    t.equal(r.json?.error?.code, code, `${what}: ${code}`);
    t.ok(typeof r.json?.error?.message === 'string' && r.json.error.message.length > 10, `${what}: "${r.json?.error?.message}"`);
    if (problems) t.same(r.json.error.problems, problems, `${what}: the problem, named`);
  }
  t.equal(sluice.pooler.config, before, 'the configuration in force is the same object');
  t.equal((await admin.get('/tenants/alice')).status, 404, 'no tenant was created by the refused PUTs');

  // carol's file reservation of 1 makes room for alice's 3 only while carol's API override sets it to 0.
  t.equal((await admin.put('/tenants/carol', { reservation: 0 })).status, 200);
  t.equal((await admin.put('/tenants/alice', { reservation: 3 })).status, 200);
  const revert = await admin.del('/tenants/carol');
  t.same(
    [revert.status, revert.json.error.code, revert.json.error.problems],
    [
      422,
      'SLUICE_HTTP_INVALID_TENANT',
      ["tenants: reservations add up to 4 slots, more than databases.app's budget of 4 minus headroom_min 1"],
    ],
    'a DELETE that would no longer fit is refused too',
  );
  t.equal((await admin.get('/tenants/carol')).json.source, 'api', 'and carol keeps her runtime settings');
});

/** `n` clients of `user` running short sleeps back to back until stopped; counts completed transactions. */
async function backlog(t: TeardownHost, sluice: TestSluice, user: 'alice' | 'carol', n: number) {
  const conns = await Promise.all(
    Array.from({ length: n }, async () => {
      const c = new pg.Client(sluice.options(user));
      c.on('error', () => undefined);
      await c.connect();
      t.teardown(() => c.end().catch(() => undefined));
      return c;
    }),
  );
  let running = true;
  const tenant = { done: 0, errors: [] as unknown[] };
  const loops = conns.map(async (c) => {
    while (running)
      await c.query('select pg_sleep(0.02)').then(
        () => tenant.done++,
        (e: unknown) => tenant.errors.push(e),
      );
  });
  return { tenant, stop: async () => ((running = false), await Promise.all(loops)) };
}

async function aliceShare(a: { done: number }, c: { done: number }, ms: number): Promise<{ share: number; alice: number; carol: number }> {
  const [a0, c0] = [a.done, c.done];
  await new Promise((r) => setTimeout(r, ms));
  const alice = a.done - a0;
  const carol = c.done - c0;
  return { share: alice / (alice + carol), alice, carol };
}

async function serverPids(): Promise<number[]> {
  const rows = await pgServer.query(`select pid from pg_stat_activity where usename = 'alice' and datname = $1 order by pid`, [APP_DB]);
  return rows.map((r) => r.pid as number);
}

t.test(
  'PUT /tenants/alice {weight: 4} shifts a busy 1:1 split to about 4:1 at once; it survives a file reload; DELETE reverts it',
  async (t) => {
    const sluice = await withToken(t);
    const admin = adminClient(sluice.pooler, TOKEN);
    const alice = await backlog(t, sluice, 'alice', 8);
    const carol = await backlog(t, sluice, 'carol', 8);
    // carol started later: the burst clamp lets her run ahead first (see isolation-reload.test.ts).
    while (alice.tenant.done < 100 || carol.tenant.done < 100) await new Promise((r) => setTimeout(r, 20));
    const pids = await serverPids();
    const even = await aliceShare(alice.tenant, carol.tenant, 2000);
    t.ok(even.share > 0.4 && even.share < 0.6, `weights 1:1: alice got ${(even.share * 100).toFixed(0)}% (${even.alice} vs ${even.carol})`);

    const put = await admin.put('/tenants/alice', { weight: 4 });
    t.equal(put.status, 200);
    t.match(put.json, { name: 'alice', source: 'api', settings: { weight: 4, reservation: 0, limit: null, queue_timeout: 0, rate: null } });
    t.equal(put.json.budgets[0].budget, `${APP_DB}/alice`, 'its live state in the shared budget comes back too');
    const shifted = await aliceShare(alice.tenant, carol.tenant, 2000);
    t.ok(
      shifted.share >= 0.7,
      `weights 4:1 from the PUT on: alice got ${(shifted.share * 100).toFixed(0)}% (${shifted.alice} vs ${shifted.carol}), expected ~80%`,
    );

    sluice.reload({ max_client_conn: 999 });
    const kept = await admin.get('/tenants/alice');
    t.same([kept.json.source, kept.json.settings.weight], ['api', 4], 'a file reload keeps the runtime settings');
    const list = await admin.get('/tenants');
    t.same(
      list.json.tenants.map((x: { name: string }) => x.name),
      ['alice', 'carol', 'default'],
      'GET /tenants lists default and the active tenants',
    );

    const del = await admin.del('/tenants/alice');
    t.same([del.status, del.json.source, del.json.settings.weight], [200, 'default', 1], 'DELETE: back to tenants.default');
    t.equal(sluice.pooler.config.scheduler.tenants.has('alice'), false, 'the configuration in force no longer names alice');

    await Promise.all([alice.stop(), carol.stop()]);
    t.same([...alice.tenant.errors, ...carol.tenant.errors], [], 'no transaction failed');
    t.same(await serverPids(), pids, 'the same 4 server connections throughout: no pool churn');
  },
);

t.test('the admin token never reaches the log, whether sent right, wrong or read at a reload', async (t) => {
  const lines: string[] = [];
  const out = new PassThrough();
  out.on('data', (b: Buffer) => lines.push(b.toString('utf8')));
  const file = tokenFile(t, TOKEN);
  const config = () => buildConfig(pgServer, { admin_http: { listen_addr: '127.0.0.1', port: 0, token_file: file } });
  const pooler = new Pooler(config(), { log: createLogger({ level: 'debug', destination: out }) });
  await pooler.listen();
  t.teardown(() => pooler.close());
  const admin = adminClient(pooler);
  await admin.get('/tenants', `${TOKEN}-wrong`);
  await admin.put('/tenants/alice', { weight: 2 }, { token: TOKEN });
  await admin.put('/tenants/alice', { weight: -2 }, { token: TOKEN });
  await admin.del('/tenants/alice', TOKEN);
  pooler.reload(config());
  await new Promise((r) => setImmediate(r));
  const log = lines.join('');
  t.match(log, /admin HTTP listening/, 'the log was captured');
  t.match(log, /tenant settings set through the admin API/, 'changes are logged');
  t.notMatch(log, TOKEN, 'the token is not in it');
});
