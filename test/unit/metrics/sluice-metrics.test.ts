// Tests the registry end to end without sockets: event series, scrape-time gauges, tenant folding, pools, clients, promtool.
import t from 'tap';
import { readFileSync } from 'node:fs';
import perfHooks, { type IntervalHistogram } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { QueueEngine } from '../../../lib/scheduler/queue/queue-engine.js';
import { ShadowQueue } from '../../../lib/scheduler/queue/shadow-queue.js';
import type { Grant } from '../../../lib/scheduler/queue/queue-nodes.js';
import { isRejection, type SchedulerSnapshot } from '../../../lib/scheduler/queue/queue-types.js';
import { EVENT_LOOP_SAMPLE_MS, SluiceMetrics, type MetricsSources } from '../../../lib/metrics/sluice-metrics.js';
import type { PoolView } from '../../../lib/metrics/pool-metrics.js';
import type { SessionView } from '../../../lib/metrics/client-metrics.js';
import { parseExposition, promtoolCheck, samples, total } from '../../helpers/exposition.js';
import { policy } from '../scheduler/fixtures.js';

interface World {
  snapshots: Map<string, SchedulerSnapshot>;
  pools: PoolView[];
  sessions: SessionView[];
  open: number;
  maxTenants: number;
  listed: string[];
  learned: number;
}

function setup(w: Partial<World> = {}) {
  const world: World = { snapshots: new Map(), pools: [], sessions: [], open: 0, maxTenants: 100, listed: [], learned: 0, ...w };
  const sources: MetricsSources = {
    snapshots: () => world.snapshots,
    learnedLong: () => world.learned,
    listedTenants: () => world.listed,
    maxTenants: () => world.maxTenants,
    pools: () => world.pools,
    openClients: () => world.open,
    sessions: () => world.sessions,
  };
  const metrics = new SluiceMetrics(sources);
  const scrape = async () => parseExposition(await metrics.scrape());
  return { world, metrics, scrape };
}

/** A fair queue of 4 slots on a hand-driven clock, its grants observed the way Scheduler does. */
function queue(metrics: SluiceMetrics, budget = 'app') {
  let now = 0;
  const q = new QueueEngine<string>('fair', policy({ slots: 4, burstSlotSeconds: 0, classes: { report: {} } }), () => now);
  const grants: Grant<string>[] = [];
  return {
    q,
    advance: (ms: number) => void (now += ms),
    enqueue(item: string, tenant: string, cls = 'default') {
      const r = q.enqueue(item, tenant, cls);
      if (isRejection(r)) throw new Error('unexpected rejection');
      return r;
    },
    dispatch() {
      for (let g = q.next(); g; g = q.next()) {
        grants.push(g);
        metrics.scheduler.granted(g.leaf, budget, g.tenant, g.cls, g.waitedMs);
      }
    },
    release(item: string) {
      const g = grants.find((x) => x.item === item)!;
      q.release(g);
      metrics.scheduler.released(g.leaf, budget, g.tenant, g.cls, now - g.dispatchedAt);
    },
  };
}

t.test('grants and releases move the wait and hold histograms, transactions and slot-seconds, per tenant and class', async (t) => {
  const { world, metrics, scrape } = setup();
  const s = queue(metrics);
  s.enqueue('g0', 'globex');
  for (let i = 0; i < 6; i++) s.enqueue(`a${i}`, 'acme', i % 2 ? 'report' : 'default');
  s.advance(20);
  s.dispatch();
  s.advance(100);
  s.release('a0');
  s.release('g0');
  s.dispatch();
  world.snapshots.set('app', s.q.snapshot());
  const m = await scrape();

  const acme = { budget: 'app', tenant: 'acme', class: 'default' };
  t.equal(total(m, 'sluice_tenant_transactions_total', acme), 1);
  t.equal(total(m, 'sluice_tenant_transaction_hold_seconds_count', acme), 1);
  t.equal(total(m, 'sluice_tenant_transaction_hold_seconds_sum', acme), 0.1, 'held 100 ms');
  t.equal(total(m, 'sluice_tenant_slot_seconds_total', acme), 0.1);
  t.equal(total(m, 'sluice_tenant_queue_wait_seconds_count'), 6, 'four granted at first, two more after the releases');
  const le = samples(m, 'sluice_tenant_queue_wait_seconds_bucket', { ...acme, le: '0.01' })[0]!;
  const le25 = samples(m, 'sluice_tenant_queue_wait_seconds_bucket', { ...acme, le: '0.025' })[0]!;
  t.equal(le.value, 0, 'the first waits were 20 ms: above the 10 ms bucket');
  t.ok(le25.value >= 1, 'and inside 25 ms');
  t.equal(total(m, 'sluice_tenant_transactions_total', { tenant: 'globex' }), 1);

  t.equal(total(m, 'sluice_tenant_slots_held', { tenant: 'acme' }), 4, 'gauges come from the snapshot');
  t.equal(total(m, 'sluice_tenant_queue_depth', { tenant: 'acme' }), 1);
  const report = total(m, 'sluice_tenant_slots_held', { tenant: 'acme', class: 'report' });
  t.ok(report > 0 && report < 4, `per class: ${report} of acme's 4 slots are in class report`);
  t.equal(total(m, 'sluice_budget_slots', { budget: 'app' }), 4);
  const entitled = total(m, 'sluice_tenant_entitled_share_ratio', { tenant: 'acme' });
  t.ok(entitled > 0.99, `acme alone has demand, so it is entitled to everything (${entitled})`);
  const received = total(m, 'sluice_tenant_received_share_ratio', { budget: 'app' });
  t.ok(Math.abs(received - 1) < 1e-9, 'received shares add up to 1');
});

t.test('rejections count by reason, with or without a queue leaf', async (t) => {
  const { world, metrics, scrape } = setup();
  const s = queue(metrics);
  const tk = s.enqueue('x', 'acme');
  world.snapshots.set('app', s.q.snapshot());
  metrics.scheduler.rejected(tk.leaf, 'app', 'acme', 'default', 'timeout');
  metrics.scheduler.rejected(tk.leaf, 'app', 'acme', 'default', 'timeout');
  metrics.scheduler.rejected(null, 'app', 'acme', 'default', 'queue_full');
  metrics.scheduler.rejected(null, 'app', 'acme', 'default', 'rate');
  const m = await scrape();
  const at = (reason: string) => total(m, 'sluice_tenant_rejections_total', { tenant: 'acme', class: 'default', reason });
  t.same([at('timeout'), at('queue_full'), at('rate'), at('limit')], [2, 1, 1, 0]);
});

t.test("shadow mode: the fair scheduler's shares are exported beside what FIFO gave", async (t) => {
  const { world, scrape } = setup();
  let now = 0;
  const q = new ShadowQueue<string>(policy({ slots: 2, tenants: { big: { weight: 3 } } }), () => now);
  for (let i = 0; i < 8; i++) q.enqueue(`s${i}`, 'small', 'default');
  for (let i = 0; i < 8; i++) q.enqueue(`b${i}`, 'big', 'default');
  for (let round = 0; round < 6; round++) {
    const gs = [q.next(), q.next()].filter((g) => g !== null);
    now += 100;
    for (const g of gs) q.release(g!);
  }
  world.snapshots.set('app', q.snapshot());
  const m = await scrape();
  const shadow = (tenant: string) => total(m, 'sluice_shadow_received_share_ratio', { budget: 'app', tenant });
  const fifo = (tenant: string) => total(m, 'sluice_tenant_received_share_ratio', { budget: 'app', tenant });
  t.ok(fifo('small') > fifo('big'), `FIFO served the earlier arrivals first (small got ${fifo('small').toFixed(2)})`);
  t.ok(
    shadow('big') > shadow('small'),
    `fair would have favoured the weight-3 tenant (${shadow('big').toFixed(2)} vs ${shadow('small').toFixed(2)})`,
  );
  t.ok(total(m, 'sluice_shadow_entitled_share_ratio', { budget: 'app', tenant: 'big' }) > 0.5, 'and entitles it to most of the budget');
});

t.test('past metrics.max_tenants, the tenants after the first ones by name are summed into tenant="other"', async (t) => {
  const { world, metrics, scrape } = setup({ maxTenants: 2 });
  const s = queue(metrics);
  let n = 0;
  /** One transaction per tenant: queued (and the snapshot taken), then run and ended. */
  const round = (tenants: string[]) => {
    for (const tenant of tenants) s.enqueue(`${tenant}#${n}`, tenant);
    world.snapshots.set('app', s.q.snapshot());
  };
  const finish = (tenants: string[]) => {
    s.dispatch();
    s.advance(10);
    for (const tenant of tenants) s.release(`${tenant}#${n}`);
    n++;
  };
  round(['delta', 'charlie', 'bravo', 'alpha']);
  let m = await scrape();
  const labelsOf = (name: string) => [...new Set(samples(m, name).map((x) => x.labels.tenant))].sort();
  t.same(labelsOf('sluice_tenant_queue_depth'), ['alpha', 'bravo', 'other'], 'gauges: the first two by name, then other');
  t.equal(total(m, 'sluice_tenant_queue_depth', { tenant: 'other' }), 2, 'other sums charlie and delta');

  finish(['delta', 'charlie', 'bravo', 'alpha']);
  m = await scrape();
  t.same(labelsOf('sluice_tenant_transactions_total'), ['alpha', 'bravo', 'other'], 'counters carry the same labels');
  t.same(
    ['alpha', 'bravo', 'other'].map((tenant) => total(m, 'sluice_tenant_transactions_total', { tenant })),
    [1, 1, 2],
  );

  // A tenant that sorts first arrives: bravo loses its label, and its series go (the label count stays bounded).
  metrics.scheduler.rejected(null, 'app', 'bravo', 'default', 'queue_full');
  round(['aardvark']);
  finish(['aardvark']);
  m = await scrape();
  t.notOk(labelsOf('sluice_tenant_transactions_total').includes('bravo'), "bravo's series are removed");
  t.equal(total(m, 'sluice_tenant_transactions_total'), 5, 'and its count moved into other: the sum over tenants goes on');
  t.equal(total(m, 'sluice_tenant_transaction_hold_seconds_count'), 5, 'histograms too');
  t.equal(total(m, 'sluice_tenant_rejections_total', { tenant: 'other', reason: 'queue_full' }), 1, 'and rejections');
  round(['aardvark', 'bravo']);
  finish(['aardvark', 'bravo']);
  m = await scrape();
  t.same(labelsOf('sluice_tenant_transactions_total'), ['aardvark', 'alpha', 'other'], 'aardvark has its own label now');
  t.equal(total(m, 'sluice_tenant_transactions_total', { tenant: 'aardvark' }), 1, 'from its first transaction after the rebalance');
});

t.test(
  'pools: server connections by state, connect latency and errors, evictions, and the optional pinned and prepared counts',
  async (t) => {
    const used = [
      { link: {}, busyInternally: false },
      { link: {}, busyInternally: true },
      { link: null, busyInternally: true },
      { link: null, busyInternally: false },
    ];
    const { metrics, scrape } = setup({
      pools: [
        { name: 'app/alice', connecting: 2, idle: { size: 3 }, used },
        {
          name: 'app/bob',
          connecting: 0,
          idle: { size: 1 },
          used: [],
          pinnedCount: 1,
          preparedStatements: { hits: 9, misses: 2, evictions: 1 },
        },
      ],
    });
    metrics.pools.launched('app/alice', 12, true);
    metrics.pools.launched('app/alice', 30, true);
    metrics.pools.launched('app/alice', 5, false);
    metrics.scheduler.evicted('app/bob');
    const m = await scrape();
    const state = (s: string) => total(m, 'sluice_pool_server_connections', { pool: 'app/alice', state: s });
    t.same([state('login'), state('idle'), state('active'), state('testing'), state('used')], [2, 3, 1, 2, 1]);
    t.equal(total(m, 'sluice_pool_connect_seconds_count', { pool: 'app/alice' }), 2);
    t.ok(Math.abs(total(m, 'sluice_pool_connect_seconds_sum', { pool: 'app/alice' }) - 0.042) < 1e-9, '12 ms + 30 ms');
    t.equal(total(m, 'sluice_pool_connect_errors_total', { pool: 'app/alice' }), 1);
    t.equal(total(m, 'sluice_pool_evictions_total', { pool: 'app/bob' }), 1);
    t.equal(total(m, 'sluice_pool_pinned_server_connections', { pool: 'app/alice' }), 0, 'no source yet: 0');
    t.equal(total(m, 'sluice_pool_pinned_server_connections', { pool: 'app/bob' }), 1);
    t.equal(total(m, 'sluice_pool_prepared_statement_hits_total', { pool: 'app/bob' }), 9);
    t.equal(total(m, 'sluice_pool_prepared_statement_misses_total', { pool: 'app/bob' }), 2);
    t.equal(total(m, 'sluice_pool_prepared_statement_evictions_total', { pool: 'app/bob' }), 1);
  },
);

t.test('clients by state and their buffered bytes per listener, TLS handshakes and auth failures by method', async (t) => {
  const view = (state: SessionView['state'], bufferedBytes = 0, readingPaused = false): SessionView => ({
    state,
    bufferedBytes,
    readingPaused,
  });
  const { metrics, scrape } = setup({
    open: 5,
    sessions: [view('idle'), view('active', 300_000, true), view('waiting', 70_000), view('idle', 10)],
  });
  metrics.tlsHandshake(true);
  metrics.authFailed('md5');
  t.equal(total(await scrape(), 'sluice_client_tls_handshakes_total'), 0, 'nothing is counted before the listener is up');
  metrics.listening('127.0.0.1:6432');
  metrics.tlsHandshake(true);
  metrics.tlsHandshake(false);
  metrics.authFailed('scram');
  metrics.authFailed('scram');
  const m = await scrape();
  const l = { listener: '127.0.0.1:6432' };
  const st = (state: string) => total(m, 'sluice_clients', { ...l, state });
  t.same([st('login'), st('idle'), st('waiting'), st('active')], [1, 2, 1, 1]);
  t.same(
    [
      total(m, 'sluice_client_tls_handshakes_total', { ...l, result: 'ok' }),
      total(m, 'sluice_client_tls_handshakes_total', { ...l, result: 'error' }),
    ],
    [1, 1],
  );
  t.equal(total(m, 'sluice_client_auth_failures_total', { ...l, method: 'scram' }), 2);
  t.equal(total(m, 'sluice_client_buffered_bytes', l), 370_010, 'buffered bytes summed over clients');
  t.equal(total(m, 'sluice_client_buffered_bytes_max', l), 300_000, 'and the most for one client');
  t.equal(total(m, 'sluice_clients_paused', l), 1, 'clients paused by backpressure');
});

t.test('process metrics are there, with the sluice_ prefix, and the registry is not the global one', async (t) => {
  const a = setup();
  const b = setup();
  a.metrics.pools.launched('p', 1, false);
  const m = await a.scrape();
  for (const name of [
    'sluice_nodejs_eventloop_lag_seconds',
    'sluice_nodejs_heap_size_used_bytes',
    'sluice_process_resident_memory_bytes',
  ]) {
    t.ok(m.has(name), name);
  }
  t.equal(total(await b.scrape(), 'sluice_pool_connect_errors_total'), 0, 'two poolers do not share counters');
});

t.test('the event-loop lag sampler wakes an idle pooler about ten times a second, not a hundred', async (t) => {
  // prom-client looks monitorEventLoopDelay up when the default metrics start: watch what it asks for.
  const real = perfHooks.monitorEventLoopDelay;
  const made: Array<{ resolution: number | undefined; h: IntervalHistogram }> = [];
  perfHooks.monitorEventLoopDelay = (options) => {
    const h = real(options);
    made.push({ resolution: options?.resolution, h });
    return h;
  };
  t.teardown(() => {
    perfHooks.monitorEventLoopDelay = real;
  });
  setup();
  t.equal(made.length, 1, 'one sampler per registry');
  t.equal(made[0].resolution, EVENT_LOOP_SAMPLE_MS);
  t.ok(EVENT_LOOP_SAMPLE_MS >= 100, 'at most ten wake-ups a second');
  // The sampler's own count of samples is its wake-ups: about 5 in half a second (50 at prom-client's default).
  made[0].h.reset();
  await sleep(500);
  t.ok(made[0].h.count <= 12, `${made[0].h.count} samples in 500 ms`);
  t.ok(made[0].h.count >= 1, 'it still samples');
});

t.test('the exposition passes promtool check metrics (when promtool is installed)', async (t) => {
  const { world, metrics } = setup({ pools: [{ name: 'app/alice', connecting: 0, idle: { size: 1 }, used: [] }] });
  metrics.listening('127.0.0.1:6432');
  const s = queue(metrics);
  s.enqueue('a', 'acme');
  s.dispatch();
  s.release('a');
  metrics.scheduler.rejected(null, 'app', 'acme', 'default', 'limit');
  metrics.pools.launched('app/alice', 3, true);
  world.snapshots.set('app', s.q.snapshot());
  const text = await metrics.scrape();
  t.ok(parseExposition(text).size > 20, 'it parses');
  const r = await promtoolCheck(text);
  if (r === null) {
    t.comment('promtool is not installed; the parser above is the check');
    return;
  }
  t.equal(r.code, 0, 'promtool exits 0');
  t.equal(r.out, '', 'and reports nothing');
});

t.test('docs/metrics.md lists every family with its type, and nothing that does not exist', async (t) => {
  const doc = readFileSync(new URL('../../../docs/metrics.md', import.meta.url), 'utf8');
  const rows = new Map<string, string>();
  for (const m of doc.matchAll(/^\| `(sluice_[a-z0-9_]+)` \| (counter|gauge|histogram) \|/gm)) rows.set(m[1]!, m[2]!);
  const { metrics, scrape } = setup();
  metrics.listening('127.0.0.1:6432');
  const families = await scrape();
  for (const f of families.values()) t.equal(rows.get(f.name), f.type, `${f.name} (${f.type}) is documented`);
  for (const name of rows.keys()) t.ok(families.has(name), `${name} exists`);
});
