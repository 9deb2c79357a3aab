// Micro-benchmark of one scheduling decision (release + next) at 10,000 tenants × 4 classes, fair vs fifo.
// Run: npm run bench:scheduler (compiles with tsconfig.bench.json); prints a table to stdout.
import {
  QueueEngine,
  ShadowQueue,
  type Grant,
  type SchedulerPolicy,
  type SlotQueue,
  type TenantPolicy,
} from '../lib/scheduler/queue/index.js';

const TENANTS = 10_000;
const CLASSES = ['oltp', 'report', 'analytics', 'migration'] as const;
const SLOTS = 200;
const ITEMS_PER_LEAF = 2;
const WARMUP = 20_000;
const MEASURED = 200_000;

interface Item {
  tenant: number;
  cls: string;
}

function benchPolicy(): SchedulerPolicy {
  const tenants = new Map<string, TenantPolicy>();
  for (let i = 0; i < TENANTS; i++) {
    const reservation = i < 20 ? 2 : 0;
    tenants.set(`t${i}`, {
      weight: 1 + (i % 8),
      reservation,
      limit: i % 10 === 0 ? 4 : Infinity,
      maxQueue: Infinity,
      queueTimeoutMs: 30_000,
    });
  }
  const base = { queueTimeoutMs: 0, elastic: false } as const;
  return {
    slots: SLOTS,
    headroom: { min: 10, max: 50 },
    burstSlotSeconds: 1,
    defaultTenant: tenants.get('t1')!,
    tenants,
    classes: new Map([
      ['default', { ...base, weight: 1, limit: Infinity, lane: 'short' as const }],
      ['oltp', { ...base, weight: 4, limit: Infinity, lane: 'short' as const }],
      ['report', { ...base, weight: 2, limit: Infinity, lane: 'short' as const }],
      ['analytics', { ...base, weight: 1, limit: 2, lane: 'long' as const, elastic: true }],
      ['migration', { ...base, weight: 1, limit: 1, lane: 'long' as const }],
    ]),
    defaultCostMs: 5,
  };
}

function percentile(sorted: Float64Array, p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]!;
}

interface Result {
  name: string;
  p50: number;
  p99: number;
  p999: number;
  max: number;
  enqueueP99: number;
  tickMs: number;
}

/** Fills the queue, saturates the slots, then times release(oldest-ish) + next() in a steady state. */
function run(name: string, make: (now: () => number) => SlotQueue<Item>, seed: number): Result {
  let clock = 0;
  let rng = seed >>> 0;
  const random = (): number => {
    rng = (rng + 0x6d2b79f5) >>> 0;
    let t = Math.imul(rng ^ (rng >>> 15), rng | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const q = make(() => clock);
  for (let k = 0; k < ITEMS_PER_LEAF; k++) {
    for (let i = 0; i < TENANTS; i++) for (const cls of CLASSES) q.enqueue({ tenant: i, cls }, `t${i}`, cls);
  }
  const held: Grant<Item>[] = [];
  for (let g = q.next(); g; g = q.next()) held.push(g);
  const decisions = new Float64Array(MEASURED);
  const enqueues = new Float64Array(MEASURED);
  let tickTotal = 0;
  let ticks = 0;
  let nextTick = 250;
  for (let n = 0; n < WARMUP + MEASURED; n++) {
    clock += 0.02 + random() * 0.05;
    if (clock >= nextTick) {
      const t0 = process.hrtime.bigint();
      q.tick();
      tickTotal += Number(process.hrtime.bigint() - t0) / 1e6;
      ticks++;
      nextTick += 250;
    }
    const victim = Math.floor(random() * held.length);
    const g = held[victim]!;
    held[victim] = held[held.length - 1]!;
    held.pop();
    const t0 = process.hrtime.bigint();
    q.release(g);
    const got = q.next();
    const t1 = process.hrtime.bigint();
    if (got) held.push(got);
    for (let extra = q.next(); extra; extra = q.next()) held.push(extra);
    const e0 = process.hrtime.bigint();
    q.enqueue(g.item, `t${g.item.tenant}`, g.item.cls);
    const e1 = process.hrtime.bigint();
    if (n >= WARMUP) {
      decisions[n - WARMUP] = Number(t1 - t0) / 1000;
      enqueues[n - WARMUP] = Number(e1 - e0) / 1000;
    }
  }
  decisions.sort();
  enqueues.sort();
  return {
    name,
    p50: percentile(decisions, 0.5),
    p99: percentile(decisions, 0.99),
    p999: percentile(decisions, 0.999),
    max: decisions[decisions.length - 1]!,
    enqueueP99: percentile(enqueues, 0.99),
    tickMs: tickTotal / Math.max(1, ticks),
  };
}

function main(): void {
  const policy = benchPolicy();
  const elastic = { elasticSlots: () => 60 };
  const results = [
    run('fair', (now) => new QueueEngine<Item>('fair', policy, now, { elastic }), 1),
    run('fifo', (now) => new QueueEngine<Item>('fifo', policy, now), 1),
    run('shadow', (now) => new ShadowQueue<Item>(policy, now, { elastic }), 1),
  ];
  const f = (us: number): string => us.toFixed(2).padStart(8);
  console.log(
    `scheduler dispatch: ${TENANTS} tenants × ${CLASSES.length} classes, ${SLOTS} slots, ${TENANTS * CLASSES.length * ITEMS_PER_LEAF} items queued, node ${process.version}`,
  );
  console.log('mode     release+next µs: p50      p99    p99.9      max   enqueue p99 µs   tick() ms');
  for (const r of results) {
    console.log(
      `${r.name.padEnd(8)}              ${f(r.p50)} ${f(r.p99)} ${f(r.p999)} ${f(r.max)}        ${f(r.enqueueP99)}   ${r.tickMs.toFixed(3).padStart(9)}`,
    );
  }
  const fair = results[0]!;
  const fifo = results[1]!;
  console.log(
    `fair/fifo p50 ratio ${(fair.p50 / fifo.p50).toFixed(2)}, p99 ratio ${(fair.p99 / fifo.p99).toFixed(2)}; target fair p99 <= 10 µs: ${fair.p99 <= 10 ? 'met' : 'MISSED'}`,
  );
}

main();
