// Proves on real Postgres that /metrics follows real traffic: two tenants' counters and histograms move with the work done, and the exposition is valid.
import { readFile } from 'node:fs/promises';
import pg from 'pg';
import t from 'tap';
import { APP_DB, type ROLES, startTestPostgres, type TeardownHost } from '../helpers/postgres.js';
import { startSluice, type TestSluice } from '../helpers/sluice.js';
import { adminClient, tokenFile, type AdminClient } from '../helpers/admin-http.js';
import { parseExposition, promtoolCheck, samples, total, type Family } from '../helpers/exposition.js';
import { makeTestCerts } from '../helpers/certs.js';

const pgServer = await startTestPostgres(t);
const TOKEN = 'metrics-test-token-5d1c';
const SLOTS = 4;
const HOLD_S = 0.01;

async function clients(t: TeardownHost, sluice: TestSluice, user: keyof typeof ROLES, n: number): Promise<pg.Client[]> {
  return Promise.all(
    Array.from({ length: n }, async () => {
      const c = new pg.Client(sluice.options(user));
      c.on('error', () => undefined);
      await c.connect();
      t.teardown(() => c.end().catch(() => undefined));
      return c;
    }),
  );
}

/** Every client runs `pg_sleep(HOLD_S)` transactions back to back until stopped; counts the completed ones. */
function load(conns: pg.Client[]) {
  let running = true;
  let done = 0;
  const loops = conns.map(async (c) => {
    while (running) {
      await c.query(`select pg_sleep(${HOLD_S})`);
      done++;
    }
  });
  return {
    get done() {
      return done;
    },
    async stop(): Promise<number> {
      running = false;
      await Promise.all(loops);
      return done;
    },
  };
}

async function scrape(admin: AdminClient): Promise<Map<string, Family>> {
  const r = await admin.get('/metrics');
  if (r.status !== 200) throw new Error(`/metrics answered ${r.status}: ${r.text}`);
  return parseExposition(r.text);
}

t.test('two tenants under load: counters and histograms match the work each did; gauges show queues while it runs', async (t) => {
  const sluice = await startSluice(t, pgServer, {
    default_pool_size: SLOTS,
    max_server_connections: SLOTS,
    tenants: { bob: { limit: 0 } },
    admin_http: { listen_addr: '127.0.0.1', port: 0, token_file: tokenFile(t, TOKEN) },
  });
  const admin = adminClient(sluice.pooler, TOKEN);
  const before = await scrape(admin);
  t.equal(total(before, 'sluice_tenant_transactions_total'), 0, 'nothing counted before any traffic');

  const alice = load(await clients(t, sluice, 'alice', 6));
  const carol = load(await clients(t, sluice, 'carol', 2));
  // Six alice clients on four shared slots: some of her transactions must queue. Sample until a scrape shows it.
  let during = await scrape(admin);
  for (let i = 0; i < 100 && total(during, 'sluice_tenant_queue_depth', { tenant: 'alice' }) === 0; i++) during = await scrape(admin);
  t.ok(total(during, 'sluice_tenant_queue_depth', { tenant: 'alice' }) > 0, 'a scrape under load shows alice queued');
  const held = total(during, 'sluice_tenant_slots_held', { budget: 'app' });
  t.ok(held > 0 && held <= SLOTS, `slots held by all tenants: ${held} of ${SLOTS}`);
  for (const tenant of ['alice', 'carol']) {
    t.equal(samples(during, 'sluice_tenant_entitled_share_ratio', { budget: 'app', tenant }).length, 1, `${tenant} has an entitled share`);
  }
  const entitled = total(during, 'sluice_tenant_entitled_share_ratio', { budget: 'app' });
  t.ok(Math.abs(entitled - 1) < 1e-6, `entitled shares of the busy tenants add up to 1 (${entitled})`);
  t.equal(
    total(during, 'sluice_clients', { state: 'login' }) +
      total(during, 'sluice_clients', { state: 'idle' }) +
      total(during, 'sluice_clients', { state: 'waiting' }) +
      total(during, 'sluice_clients', { state: 'active' }),
    8,
    'eight clients, each in one state',
  );

  while (alice.done < 60 || carol.done < 20) await new Promise((r) => setTimeout(r, 20));
  const done = { alice: await alice.stop(), carol: await carol.stop() };
  const after = await scrape(admin);
  for (const tenant of ['alice', 'carol'] as const) {
    const l = { budget: 'app', tenant, class: 'default' };
    const n = done[tenant];
    t.equal(total(after, 'sluice_tenant_transactions_total', l), n, `${tenant}: one transaction counted per query completed (${n})`);
    t.equal(total(after, 'sluice_tenant_transaction_hold_seconds_count', l), n, `${tenant}: hold histogram count`);
    t.equal(total(after, 'sluice_tenant_queue_wait_seconds_count', l), n, `${tenant}: wait histogram count`);
    const holdSum = total(after, 'sluice_tenant_transaction_hold_seconds_sum', l);
    t.ok(holdSum >= n * HOLD_S, `${tenant}: each held its slot at least ${HOLD_S} s (sum ${holdSum.toFixed(3)} s)`);
    t.ok(Math.abs(total(after, 'sluice_tenant_slot_seconds_total', l) - holdSum) < 1e-6, `${tenant}: slot-seconds equal the hold time`);
    const inf = samples(after, 'sluice_tenant_transaction_hold_seconds_bucket', { ...l, le: '+Inf' })[0]?.value;
    const fast = samples(after, 'sluice_tenant_transaction_hold_seconds_bucket', { ...l, le: '0.005' })[0]?.value;
    t.equal(inf, n, `${tenant}: the +Inf bucket holds every transaction`);
    t.equal(fast, 0, `${tenant}: none held its slot under 5 ms, since each slept 10 ms`);
  }
  t.ok(total(after, 'sluice_tenant_queue_wait_seconds_sum', { tenant: 'alice' }) > 0, 'alice spent time queued');
  t.equal(total(after, 'sluice_tenant_queue_depth'), 0, 'nothing queued once the load stopped');
  t.equal(total(after, 'sluice_tenant_slots_held'), 0, 'and no slot held');
  t.equal(total(after, 'sluice_clients', { state: 'idle' }), 8, 'all eight clients idle');
  t.ok(total(after, 'sluice_pool_connect_seconds_count') >= 2, "each tenant's pool opened server connections");
  t.ok(total(after, 'sluice_pool_server_connections', { state: 'idle' }) > 0, 'which sit idle now');
  t.equal(total(after, 'sluice_pool_server_connections', { state: 'active' }), 0, 'none linked to a client any more');
  t.ok(total(during, 'sluice_pool_server_connections', { state: 'active' }) <= SLOTS, "under load, at most the budget's slots were in use");
});

t.test('rejections by reason, TLS handshakes, auth failures by method and the exposition format', async (t) => {
  const certs = await makeTestCerts(t);
  const sluice = await startSluice(t, pgServer, {
    tenants: { bob: { limit: 0 } },
    client_tls: { cert_file: certs.serverCert, key_file: certs.serverKey },
    admin_http: { listen_addr: '127.0.0.1', port: 0, token_file: tokenFile(t, TOKEN) },
  });
  const admin = adminClient(sluice.pooler, TOKEN);
  const [bob] = await clients(t, sluice, 'bob', 1);
  for (let i = 0; i < 3; i++) await t.rejects(bob!.query('select 1'), { code: '53400' }, 'bob may not start transactions');
  const wrong = new pg.Client({ ...sluice.options('alice'), password: 'not-her-password' });
  wrong.on('error', () => undefined);
  await t.rejects(wrong.connect(), { code: '28P01' });
  const secure = new pg.Client({ ...sluice.options('carol'), ssl: { ca: await readFile(certs.caCert, 'utf8') } });
  await secure.connect();
  await secure.end();
  // Without the CA the client refuses the certificate and drops the handshake.
  const untrusting = new pg.Client({ ...sluice.options('carol'), ssl: { rejectUnauthorized: true } });
  untrusting.on('error', () => undefined);
  await t.rejects(untrusting.connect());

  // The server sees the abandoned handshake when the client's alert arrives: wait for it, bounded.
  let text = (await admin.get('/metrics')).text;
  for (let i = 0; i < 50 && total(parseExposition(text), 'sluice_client_tls_handshakes_total', { result: 'error' }) === 0; i++) {
    await new Promise((r) => setTimeout(r, 20));
    text = (await admin.get('/metrics')).text;
  }
  const m = parseExposition(text);
  t.equal(
    total(m, 'sluice_tenant_rejections_total', { budget: `${APP_DB}/bob`, tenant: 'bob', reason: 'limit' }),
    3,
    'three refusals for limit',
  );
  t.equal(total(m, 'sluice_tenant_rejections_total', { reason: 'timeout' }), 0, 'none for other reasons');
  t.equal(total(m, 'sluice_client_auth_failures_total', { method: 'md5' }), 1, 'the wrong password counts under md5');
  t.equal(total(m, 'sluice_client_tls_handshakes_total', { result: 'ok' }), 1, 'one TLS handshake completed');
  t.equal(total(m, 'sluice_client_tls_handshakes_total', { result: 'error' }), 1, 'one was abandoned by the client');
  for (const f of m.values()) {
    t.ok(f.name.startsWith('sluice_'), `${f.name}: sluice_ prefix`);
    t.ok(f.help.length > 0, `${f.name}: has HELP`);
    if (f.type === 'counter') t.ok(f.name.endsWith('_total'), `${f.name}: counters end in _total`);
  }
  const r = await promtoolCheck(text);
  if (r === null) t.comment('promtool is not installed; the strict parser above is the check');
  else t.same(r, { code: 0, out: '' }, 'promtool check metrics is clean');
});
