// Simulated share accuracy of QueueEngine: weights, slot-time fairness, burst clamp, reload, accrual, renormalization.
import t from 'tap';
import { QueueEngine } from '../../../../lib/scheduler/queue/queue-engine.js';
import type { SchedulerOptions } from '../../../../lib/scheduler/queue/queue-types.js';
import { policy, type PolicyInput } from '../fixtures.js';
import { fixed, sharesBetween, Sim, uniform, type SimItem, type SimOptions } from './sim.js';
import { FakeClock } from '../../../helpers/fake-clock.js';

function sim(p: PolicyInput, opts: SimOptions = {}, options: SchedulerOptions = {}) {
  const clock = new FakeClock();
  const q = new QueueEngine<SimItem>('fair', policy(p), clock.now, options);
  return { q, s: new Sim(q, clock, opts) };
}

const within = (got: number, want: number, rel: number): boolean => Math.abs(got / want - 1) <= rel;

t.test('S3: all backlogged, slot-time shares follow weights 1:2:4 within 5%', async (t) => {
  const { s } = sim(
    { tenants: { A: { weight: 1 }, B: { weight: 2 }, C: { weight: 4 } } },
    { seed: 3, measureFrom: 2000, measureTo: 32_000 },
  );
  for (const tenant of ['A', 'B', 'C']) s.addClients({ tenant, count: 40, holdMs: uniform(0, 20) });
  s.run(32_000);
  s.finish();
  for (const [tenant, want] of [
    ['A', 1 / 7],
    ['B', 2 / 7],
    ['C', 4 / 7],
  ] as const) {
    t.ok(within(s.share(tenant), want, 0.05), `${tenant}: ${s.share(tenant).toFixed(4)} vs ${want.toFixed(4)}`);
  }
});

t.test('S3b: 1 ms vs 100 ms transactions at equal weights share slot-time 50/50 within 5%', async (t) => {
  const { s } = sim({}, { seed: 5, measureFrom: 1000, measureTo: 9000 });
  s.addClients({ tenant: 'A', count: 40, holdMs: fixed(1) });
  s.addClients({ tenant: 'B', count: 40, holdMs: fixed(100) });
  s.run(9000);
  s.finish();
  t.ok(within(s.share('A'), 0.5, 0.05), `A ${s.share('A').toFixed(4)}`);
  t.ok(within(s.share('B'), 0.5, 0.05), `B ${s.share('B').toFixed(4)}`);
  const a = s.waits.get('A')!.length;
  const b = s.waits.get('B')!.length;
  t.ok(a > 50 * b, `transaction counts differ by design (${a} vs ${b})`);
});

/** Largest excess of V's slot-time over its fair third, from its return until `to`. */
function maxExcess(burstSlotSeconds: number): number {
  const { s } = sim({ burstSlotSeconds }, { seed: 11, recordSegments: true });
  for (const tenant of ['F1', 'F2']) s.addClients({ tenant, count: 40, holdMs: uniform(5, 15) });
  s.addClients({ tenant: 'V', count: 40, holdMs: uniform(5, 15), stopAt: 5000 });
  s.addClients({ tenant: 'V', count: 40, holdMs: uniform(5, 15), startAt: 30_000 });
  s.run(40_000);
  const after = s.segments.filter((x) => x.end > 30_000).sort((x, y) => x.end - y.end);
  let v = 0;
  let total = 0;
  let worst = 0;
  for (const seg of after) {
    const d = seg.end - Math.max(seg.start, 30_000);
    total += d;
    if (seg.tenant === 'V') v += d;
    worst = Math.max(worst, v - total / 3);
  }
  return worst;
}

t.test('S5: a returning idle tenant gets at most its burst allowance over its fair share', async (t) => {
  const B = 1000;
  const slack = 20 * 15; // one in-flight hold per slot: charges are estimates until release
  const excess = maxExcess(1);
  t.ok(excess > 0, `the returning tenant does get a burst (${excess.toFixed(0)} slot-ms)`);
  t.ok(excess <= B + slack, `excess ${excess.toFixed(0)} slot-ms <= B ${B} + ${slack}`);
  const unclamped = maxExcess(30);
  t.ok(unclamped > 5 * B, `a larger allowance lets it run further ahead (${unclamped.toFixed(0)} slot-ms)`);
});

t.test('setPolicy mid-run shifts shares to the new weights', async (t) => {
  const { q, s } = sim({ burstSlotSeconds: 0.1 }, { seed: 2, recordSegments: true });
  for (const tenant of ['A', 'B']) s.addClients({ tenant, count: 30, holdMs: uniform(2, 20) });
  s.run(10_000);
  const before = sharesBetween(s.segments, 1000, 10_000);
  t.ok(within(before.get('B')!, 0.5, 0.05), `before: B ${before.get('B')!.toFixed(3)}`);
  q.setPolicy(policy({ burstSlotSeconds: 0.1, tenants: { A: { weight: 1 }, B: { weight: 3 } } }));
  s.run(22_000);
  const after = sharesBetween(s.segments, 12_000, 21_000);
  t.ok(within(after.get('B')!, 0.75, 0.05), `after: B ${after.get('B')!.toFixed(3)}`);
});

t.test('tick() accrual keeps a long transaction from looking cheap while it runs', async (t) => {
  const run = (tickMs: number) => {
    let peak = 0;
    const { s } = sim(
      { slots: 4 },
      { seed: 4, tickMs, measureFrom: 5000, measureTo: 20_000, afterEvent: (x) => void (peak = Math.max(peak, x.heldBy('A'))) },
    );
    for (let i = 0; i < 4; i++) s.addClients({ tenant: 'A', count: 1, holdMs: fixed(60_000), startAt: 1000 * i });
    s.addClients({ tenant: 'B', count: 20, holdMs: fixed(10) });
    s.run(20_000);
    s.finish();
    return { peak, shareB: s.share('B') };
  };
  const accrued = run(250);
  const blind = run(1e12);
  t.ok(accrued.peak <= 3, `with accrual the long tenant holds at most 3 of 4 slots (${accrued.peak})`);
  t.ok(accrued.shareB >= 0.24, `and the short tenant keeps slot-time (${accrued.shareB.toFixed(3)})`);
  t.equal(blind.peak, 4, 'without accrual the long tenant takes every slot for a minute');
  t.equal(blind.shareB, 0, 'starving the short tenant');
});

t.test('renormalizing virtual time does not change any decision', async (t) => {
  const run = (renormalizeAbove: number) => {
    const clock = new FakeClock();
    const p = policy({ defaultCostMs: 8, tenants: { A: { weight: 1 }, B: { weight: 2 }, C: { weight: 4 } } });
    const q = new QueueEngine<SimItem>('fair', p, clock.now, { renormalizeAbove, costEwmaAlpha: 0.5 });
    const order: string[] = [];
    let minVtime = Infinity;
    const s = new Sim(q, clock, {
      seed: 9,
      afterEvent: () => void (minVtime = Math.min(minVtime, q.snapshot().virtualTime)),
    });
    for (const tenant of ['A', 'B', 'C']) s.addClients({ tenant, count: 10, holdMs: fixed(8) });
    const next = q.next.bind(q);
    q.next = () => {
      const g = next();
      if (g) order.push(g.tenant);
      return g;
    };
    s.run(5000);
    return { order, final: q.snapshot().virtualTime };
  };
  const plain = run(1e9);
  const renorm = run(100);
  t.ok(plain.final > 1000, 'virtual time grows without renormalization');
  t.ok(renorm.final < 200, 'and is pulled back with it');
  t.equal(renorm.order.length, plain.order.length);
  t.same(renorm.order, plain.order, 'identical dispatch sequence');
});
