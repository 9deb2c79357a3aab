// Property tests over random tenants, policies and loads: caps hold, slots never idle without a reason, no starvation.
import t from 'tap';
import fc from 'fast-check';
import { QueueEngine } from '../../../../lib/scheduler/queue/queue-engine.js';
import type { SchedulerPolicy } from '../../../../lib/scheduler/queue/policy.js';
import type { SchedulerSnapshot } from '../../../../lib/scheduler/queue/queue-types.js';
import { klass, tenant } from '../fixtures.js';
import { exponential, Sim, type SimItem } from './sim.js';
import { FakeClock } from '../../../helpers/fake-clock.js';

const CLASSES = ['default', 'batch', 'scan'] as const;

const tenantArb = fc.record({
  weight: fc.integer({ min: 1, max: 8 }),
  reservation: fc.integer({ min: 0, max: 2 }),
  extraLimit: fc.option(fc.integer({ min: 1, max: 4 }), { nil: undefined }),
  maxQueue: fc.option(fc.integer({ min: 2, max: 20 }), { nil: undefined }),
  timeoutMs: fc.constantFrom(0, 0, 300, 3000),
  rate: fc.option(
    fc.record({
      perSecond: fc.integer({ min: 5, max: 200 }),
      burst: fc.integer({ min: 1, max: 5 }),
      mode: fc.constantFrom('wait' as const, 'reject' as const),
    }),
    { nil: undefined, freq: 3 },
  ),
  groups: fc.array(
    fc.record({
      cls: fc.constantFrom(...CLASSES),
      count: fc.integer({ min: 1, max: 8 }),
      meanHold: fc.integer({ min: 1, max: 150 }),
      think: fc.integer({ min: 0, max: 40 }),
    }),
    { minLength: 1, maxLength: 3 },
  ),
});

const scenarioArb = fc.record({
  slots: fc.integer({ min: 2, max: 12 }),
  hmin: fc.integer({ min: 0, max: 2 }),
  hextra: fc.integer({ min: 0, max: 2 }),
  burst: fc.constantFrom(0, 0.05, 1),
  elastic: fc.integer({ min: 1, max: 3 }),
  batchLimit: fc.option(fc.integer({ min: 1, max: 3 }), { nil: undefined }),
  classTimeout: fc.constantFrom(0, 0, 1000),
  /** Clients of unlisted tenants that come and go (exercises the default policy and GC). */
  strangers: fc.integer({ min: 0, max: 6 }),
  cancelAfterMs: fc.option(fc.integer({ min: 1, max: 500 }), { nil: undefined }),
  reload: fc.option(
    fc.record({ weightShift: fc.integer({ min: 1, max: 5 }), hextra: fc.integer({ min: 0, max: 2 }), burst: fc.constantFrom(0, 1) }),
    { nil: undefined },
  ),
  tenants: fc.array(tenantArb, { minLength: 1, maxLength: 5 }),
  seed: fc.integer({ min: 1, max: 1 << 30 }),
});

type Scenario = typeof scenarioArb extends fc.Arbitrary<infer S> ? S : never;

function buildPolicy(sc: Scenario): SchedulerPolicy {
  const hmin = Math.min(sc.hmin, sc.slots - 1);
  const hmax = Math.min(hmin + sc.hextra, sc.slots - 1);
  let room = sc.slots - hmin;
  const tenants = new Map(
    sc.tenants.map((x, i) => {
      const reservation = Math.min(x.reservation, room);
      room -= reservation;
      const limit = x.extraLimit === undefined ? Infinity : reservation + x.extraLimit;
      return [
        `t${i}`,
        tenant({ weight: x.weight, reservation, limit, maxQueue: x.maxQueue ?? Infinity, queueTimeoutMs: x.timeoutMs, rate: x.rate }),
      ];
    }),
  );
  const classes = new Map([
    ['default', klass({ queueTimeoutMs: sc.classTimeout })],
    ['batch', klass({ lane: 'long', limit: sc.batchLimit ?? Infinity, weight: 2, queueTimeoutMs: sc.classTimeout })],
    ['scan', klass({ elastic: true, lane: 'long', queueTimeoutMs: sc.classTimeout })],
  ]);
  return {
    slots: sc.slots,
    headroom: { min: hmin, max: hmax },
    burstSlotSeconds: sc.burst,
    defaultTenant: tenant(),
    tenants,
    classes,
    defaultCostMs: 10,
  };
}

type Row = SchedulerSnapshot['tenants'][number];
type Leaf = Row['classes'][number];

/** A cap that keeps this waiting leaf from a slot, or null. */
function ownBlock(snap: SchedulerSnapshot, row: Row, c: Leaf): string | null {
  if (row.blocked) return row.blocked;
  if (c.atLimit) return 'class limit';
  if (c.elastic && snap.elasticHeld >= snap.elasticSlots) return 'elastic';
  return null;
}

/** The scheduler may hold a slot for a long-lane or elastic pick that the headroom rule blocks. */
function headroomHold(snap: SchedulerSnapshot, p: SchedulerPolicy): boolean {
  if (snap.idle.reason !== 'headroom') return false;
  const free = snap.slots - snap.held;
  return snap.tenants.some((row) =>
    row.classes.some((c) => {
      if (c.queued === 0 || ownBlock(snap, row, c) || (c.lane === 'short' && !c.elastic)) return false;
      const deficitAfter = snap.reservationDeficit - (row.held < row.reservation ? 1 : 0);
      return free - 1 < Math.min(p.headroom.max, p.headroom.min + deficitAfter);
    }),
  );
}

function runScenario(sc: Scenario): string | null {
  const clock = new FakeClock();
  let p = buildPolicy(sc);
  const q = new QueueEngine<SimItem>('fair', p, clock.now, { elastic: { elasticSlots: () => sc.elastic }, idleTenantTtlMs: 300 });
  let problem: string | null = null;
  const fail = (msg: string) => void (problem ??= `t=${clock.t.toFixed(1)}: ${msg}`);
  const s = new Sim(q, clock, {
    seed: sc.seed,
    afterEvent: (x) => {
      if (q.held > p.slots) fail('held exceeds slots');
      const snap = q.snapshot();
      const held = headroomHold(snap, p);
      for (const row of snap.tenants) {
        const tp = p.tenants.get(row.tenant) ?? p.defaultTenant;
        if (x.heldBy(row.tenant) > tp.limit) fail(`${row.tenant} above its limit`);
        for (const c of row.classes) {
          if (x.heldBy(row.tenant, c.cls) > (p.classes.get(c.cls)?.limit ?? Infinity)) fail(`${row.tenant}/${c.cls} above class limit`);
          if (q.held < p.slots && c.queued > 0 && !held && ownBlock(snap, row, c) === null) {
            fail(`idle slot while ${row.tenant}/${c.cls} waits unblocked`);
          }
        }
      }
      if (snap.elasticHeld > sc.elastic) fail('elastic budget exceeded');
    },
  });
  sc.tenants.forEach((x, i) => {
    for (const g of x.groups) {
      s.addClients({
        tenant: `t${i}`,
        cls: g.cls,
        count: g.count,
        holdMs: exponential(g.meanHold),
        thinkMs: exponential(g.think + 0.1),
        stopAt: 4000,
        cancelAfterMs: sc.cancelAfterMs,
      });
    }
  });
  for (let i = 0; i < sc.strangers; i++) {
    s.addClients({
      tenant: `u${i}`,
      count: 1,
      holdMs: exponential(20),
      thinkMs: exponential(400),
      startAt: 500 * i,
      stopAt: 500 * i + 1500,
    });
  }
  s.run(2000);
  if (sc.reload) {
    const r = sc.reload;
    p = buildPolicy({
      ...sc,
      hextra: r.hextra,
      burst: r.burst,
      tenants: sc.tenants.map((x) => ({ ...x, weight: ((x.weight + r.weightShift) % 8) + 1 })),
    });
    q.setPolicy(p);
  }
  s.run(4000);
  s.run(300_000);
  if (q.queued !== 0) fail(`${q.queued} items never left the queue`);
  const timeouts = s.rejections.filter((r) => r.reason === 'timeout').length;
  if (s.accepted !== s.dispatched + timeouts + s.cancelled) {
    fail(`accepted ${s.accepted} != dispatched ${s.dispatched} + timed out ${timeouts} + cancelled ${s.cancelled}`);
  }
  if (q.tenantCount !== sc.tenants.length) fail(`${q.tenantCount - sc.tenants.length} idle unlisted tenants not collected`);
  sc.tenants.forEach((x, i) => {
    const bound = Math.min(...[x.timeoutMs, sc.classTimeout].filter((ms) => ms > 0), Infinity);
    const worst = Math.max(0, ...(s.waits.get(`t${i}`) ?? []));
    if (bound !== Infinity && worst > bound + 1e-6) fail(`t${i} waited ${worst} ms past its ${bound} ms timeout`);
  });
  return problem;
}

t.test('random runs: caps hold, no unexplained idle slot, everything dispatched or timed out', async (t) => {
  let runs = 0;
  fc.assert(
    fc.property(scenarioArb, (sc) => {
      runs++;
      const problem = runScenario(sc);
      if (problem) throw new Error(problem);
    }),
    { numRuns: 60, seed: 20240601 },
  );
  t.equal(runs >= 60, true, `${runs} random scenarios passed`);
});
