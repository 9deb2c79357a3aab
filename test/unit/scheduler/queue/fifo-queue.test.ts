// Tests for QueueEngine (`scheduler: fifo`): one arrival order, same caps, timeouts and depth limits, no fairness.
import t from 'tap';
import { QueueEngine } from '../../../../lib/scheduler/queue/queue-engine.js';
import type { Grant } from '../../../../lib/scheduler/queue/queue-nodes.js';
import { isRejection, type Rejection } from '../../../../lib/scheduler/queue/queue-types.js';
import { policy, type PolicyInput } from '../fixtures.js';
import { Sim, uniform, type SimItem } from './sim.js';
import { FakeClock } from '../../../helpers/fake-clock.js';

function setup(p: PolicyInput = {}) {
  const clock = new FakeClock();
  const q = new QueueEngine<string>('fifo', policy(p), clock.now);
  const add = (item: string, tenant: string, cls = 'default') => {
    const r = q.enqueue(item, tenant, cls);
    if (isRejection(r)) throw new Error(r.reason);
    return r;
  };
  const drain = (): Grant<string>[] => {
    const out: Grant<string>[] = [];
    for (let g = q.next(); g; g = q.next()) out.push(g);
    return out;
  };
  return { clock, q, add, drain };
}

t.test('dispatches in arrival order across tenants and classes, whatever the weights', async (t) => {
  const { add, drain } = setup({ slots: 100, tenants: { heavy: { weight: 100 } }, classes: { olap: { weight: 50 } } });
  const order = ['a1', 'h1', 'a2', 'h2', 'b1', 'a3'];
  for (const item of order) add(item, item[0] === 'h' ? 'heavy' : item[0]!, item === 'a2' ? 'olap' : 'default');
  t.same(
    drain().map((g) => g.item),
    order,
  );
});

t.test('a capped tenant is skipped, the rest stays in arrival order', async (t) => {
  const { q, add, drain } = setup({ slots: 10, tenants: { A: { limit: 1 } } });
  for (const item of ['a1', 'a2', 'b1', 'a3', 'b2']) add(item, item[0]!.toUpperCase());
  const first = drain();
  t.same(
    first.map((g) => g.item),
    ['a1', 'b1', 'b2'],
  );
  t.equal(q.snapshot().idle.reason, 'limit');
  q.release(first[0]!);
  t.same(
    drain().map((g) => g.item),
    ['a2'],
  );
});

t.test('headroom and reservations do not apply; depth caps, timeouts and rates do', async (t) => {
  const { clock, q, add, drain } = setup({
    slots: 3,
    headroom: { min: 2, max: 2 },
    tenants: { A: { maxQueue: 4, queueTimeoutMs: 100 }, R: { reservation: 1, rate: { perSecond: 1, burst: 1, mode: 'reject' } } },
    classes: { batch: { lane: 'long' } },
  });
  for (let i = 0; i < 4; i++) add(`l${i}`, 'A', 'batch');
  t.equal((q.enqueue('x', 'A', 'batch') as Rejection).reason, 'queue_full');
  t.equal(drain().length, 3, 'long lane takes every slot');
  add('r1', 'R');
  t.equal((q.enqueue('r2', 'R', 'default') as Rejection).reason, 'rate');
  clock.t = 100;
  t.same(
    q.expire().map((e) => e.item),
    ['l3'],
  );
  t.equal(q.snapshot().mode, 'fifo');
  t.equal(q.snapshot().headroomRequired, 0);
});

t.test('shares follow session counts, not weights', async (t) => {
  const clock = new FakeClock();
  const q = new QueueEngine<SimItem>('fifo', policy({ tenants: { A: { weight: 4 }, B: { weight: 1 } } }), clock.now);
  const s = new Sim(q, clock, { seed: 6, measureFrom: 1000, measureTo: 10_000 });
  s.addClients({ tenant: 'A', count: 10, holdMs: uniform(5, 15) });
  s.addClients({ tenant: 'B', count: 30, holdMs: uniform(5, 15) });
  s.run(10_000);
  s.finish();
  t.ok(Math.abs(s.share('B') - 0.75) < 0.05, `B ${s.share('B').toFixed(3)} ≈ 30/40 of sessions`);
});
