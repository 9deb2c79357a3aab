// Measures a /metrics scrape with 1,000 tenants × 2 classes (folded at max_tenants 100, and unfolded), and the per-transaction observer cost.
// Run: npm run bench:metrics (compiles with tsconfig.bench.json); prints a table to stdout.
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { QueueEngine, isRejection, type Grant, type SchedulerPolicy, type TenantPolicy } from '../lib/scheduler/queue/index.js';
import { SluiceMetrics } from '../lib/metrics/sluice-metrics.js';
import type { PoolView } from '../lib/metrics/pool-metrics.js';

const TENANTS = 1000;
const CLASSES = ['default', 'report'] as const;
const SLOTS = 200;
const SCRAPES = 30;
const HOT_TRANSACTIONS = 200_000;

function benchPolicy(): SchedulerPolicy {
  const tenant: TenantPolicy = { weight: 1, reservation: 0, limit: Infinity, maxQueue: Infinity, queueTimeoutMs: 0 };
  const cls = { weight: 1, limit: Infinity, queueTimeoutMs: 0, elastic: false, lane: 'short' as const };
  return {
    slots: SLOTS,
    headroom: { min: 0, max: 0 },
    burstSlotSeconds: 1,
    defaultTenant: tenant,
    tenants: new Map(),
    classes: new Map(CLASSES.map((c) => [c, cls])),
    defaultCostMs: 5,
  };
}

/** A busy budget: every (tenant, class) has run transactions, some hold slots, some queue. */
function world(maxTenants: number) {
  let now = 0;
  const q = new QueueEngine<number>('fair', benchPolicy(), () => now);
  const pools: PoolView[] = Array.from({ length: 20 }, (_, i) => ({ name: `app/user${i}`, connecting: 0, idle: { size: 5 }, used: [] }));
  const metrics = new SluiceMetrics({
    snapshots: () => new Map([['app', q.snapshot()]]),
    learnedLong: () => 0,
    listedTenants: () => [],
    maxTenants: () => maxTenants,
    pools: () => pools,
    openClients: () => 2000,
    sessions: () => [],
  });
  metrics.listening('127.0.0.1:6432');
  const obs = metrics.scheduler;
  const held: Grant<number>[] = [];
  let item = 0;
  /** One round: every (tenant, class) queues one transaction; grants and releases go through the observer. */
  const round = (): void => {
    for (let t = 0; t < TENANTS; t++)
      for (const c of CLASSES) {
        const r = q.enqueue(item++, `tenant-${String(t).padStart(4, '0')}`, c);
        if (isRejection(r)) throw new Error(r.reason);
      }
    for (;;) {
      for (let g = q.next(); g; g = q.next()) {
        obs.granted(g.leaf, 'app', g.tenant, g.cls, g.waitedMs);
        held.push(g);
      }
      if (held.length === 0) break;
      now += 1;
      for (const g of held.splice(0, Math.min(held.length, SLOTS / 2))) {
        q.release(g);
        obs.released(g.leaf, 'app', g.tenant, g.cls, now - g.dispatchedAt);
      }
      if (q.queued === 0 && held.length < SLOTS / 4) break;
    }
  };
  return { metrics, round };
}

function percentile(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil(p * s.length) - 1)]!;
}

async function scrapeBench(maxTenants: number): Promise<Record<string, string | number>> {
  const w = world(maxTenants);
  // A scrape between rounds sorts the tenants into their labels, as in a running Sluice.
  w.round();
  await w.metrics.scrape();
  w.round();
  const text = await w.metrics.scrape();
  const times: number[] = [];
  const lag = monitorEventLoopDelay({ resolution: 1 });
  lag.enable();
  for (let i = 0; i < SCRAPES; i++) {
    const t0 = performance.now();
    await w.metrics.scrape();
    times.push(performance.now() - t0);
  }
  lag.disable();
  const series = text.split('\n').filter((l) => l && !l.startsWith('#')).length;
  return {
    max_tenants: maxTenants,
    series,
    KiB: Math.round(Buffer.byteLength(text) / 1024),
    'scrape p50 ms': percentile(times, 0.5).toFixed(1),
    'scrape p99 ms': percentile(times, 0.99).toFixed(1),
    'longest event-loop stall ms': (lag.max / 1e6).toFixed(1),
  };
}

/** The hot path: granted + released per transaction, label children cached per leaf. */
function observerBench(): Record<string, string | number> {
  const w = world(100);
  const q = new QueueEngine<number>('fair', benchPolicy(), () => 0);
  const g = q.enqueue(0, 'tenant-0001', 'default');
  if (isRejection(g)) throw new Error(g.reason);
  const leaf = g.leaf;
  const obs = w.metrics.scheduler;
  for (let i = 0; i < 20_000; i++) obs.released(leaf, 'app', 'tenant-0001', 'default', 3);
  const t0 = performance.now();
  for (let i = 0; i < HOT_TRANSACTIONS; i++) {
    obs.granted(leaf, 'app', 'tenant-0001', 'default', 1);
    obs.released(leaf, 'app', 'tenant-0001', 'default', 3);
  }
  const ns = ((performance.now() - t0) * 1e6) / HOT_TRANSACTIONS;
  return { 'observer ns per transaction (granted + released)': ns.toFixed(0) };
}

console.log(
  `metrics scrape: ${TENANTS} tenants × ${CLASSES.length} classes, one budget of ${SLOTS} slots, 20 pools; ${SCRAPES} scrapes each`,
);
console.table([await scrapeBench(100), await scrapeBench(TENANTS)]);
console.table([observerBench()]);
