// Tests for ShadowQueue (`scheduler: shadow`): FIFO dispatch, fair shares reported on the side.
import t from 'tap';
import { QueueEngine } from '../../../../lib/scheduler/queue/queue-engine.js';
import { createSlotQueue } from '../../../../lib/scheduler/queue/index.js';
import { ShadowQueue } from '../../../../lib/scheduler/queue/shadow-queue.js';
import { isRejection, type SlotQueue } from '../../../../lib/scheduler/queue/queue-types.js';
import { policy } from '../fixtures.js';
import { Sim, uniform, type SimItem } from './sim.js';
import { FakeClock } from '../../../helpers/fake-clock.js';

const P = policy({ slots: 6, burstSlotSeconds: 0.1, tenants: { A: { weight: 1 }, B: { weight: 3 } } });

t.test('dispatches exactly like the fifo engine', async (t) => {
  const make = [(now: () => number) => new QueueEngine<SimItem>('fifo', P, now), (now: () => number) => new ShadowQueue<SimItem>(P, now)];
  const runs = make.map((create) => {
    const clock = new FakeClock();
    const q: SlotQueue<SimItem> = create(clock.now);
    const order: string[] = [];
    const s = new Sim(q, clock, { seed: 31, afterEvent: () => void order.push(`${q.held}/${q.queued}`) });
    s.addClients({ tenant: 'A', count: 10, holdMs: uniform(1, 30) });
    s.addClients({ tenant: 'B', count: 10, holdMs: uniform(1, 30) });
    s.run(3000);
    return { order, waits: s.waits };
  });
  t.same(runs[1]!.order, runs[0]!.order, 'same held/queued after every event');
  t.same(runs[1]!.waits, runs[0]!.waits, 'same waits per tenant');
});

t.test('reports the shares the fair scheduler would have given', async (t) => {
  const clock = new FakeClock();
  const q = new ShadowQueue<SimItem>(P, clock.now);
  const s = new Sim(q, clock, { seed: 32, measureFrom: 2000, measureTo: 20_000 });
  s.addClients({ tenant: 'A', count: 20, holdMs: uniform(5, 15) });
  s.addClients({ tenant: 'B', count: 20, holdMs: uniform(5, 15) });
  s.run(20_000);
  s.finish();
  const snap = q.snapshot();
  t.equal(snap.mode, 'shadow');
  t.equal(snap.shadow?.mode, 'fair');
  t.ok(Math.abs(s.share('B') - 0.5) < 0.05, `real (FIFO) share of B ${s.share('B').toFixed(3)} ≈ 0.5`);
  const shadowB = snap.shadow!.tenants.find((x) => x.tenant === 'B')!;
  t.ok(Math.abs(shadowB.receivedShare - 0.75) < 0.06, `would-be share of B ${shadowB.receivedShare.toFixed(3)} ≈ 0.75`);
  t.ok(Math.abs(shadowB.entitledShare - 0.75) < 1e-9, 'entitlement 3/4');
});

t.test('cancellations and timeouts reach the shadow too', async (t) => {
  const clock = new FakeClock();
  const q = new ShadowQueue<string>(policy({ slots: 1, tenants: { A: { queueTimeoutMs: 50 } } }), clock.now);
  const first = q.enqueue('first', 'B', 'default');
  const g = q.next();
  t.ok(g && !isRejection(first));
  const a = q.enqueue('a', 'A', 'default');
  const b = q.enqueue('b', 'B', 'default');
  if (isRejection(a) || isRejection(b)) throw new Error('unexpected rejection');
  t.ok(q.remove(b));
  t.notOk(q.remove(b));
  t.equal(q.snapshot().shadow!.queued, 1);
  clock.t = 50;
  t.same(
    q.expire().map((e) => e.item),
    ['a'],
  );
  t.equal(q.snapshot().shadow!.queued, 0);
  t.equal(q.nextDeadline(), null);
  q.release(g!);
  q.release(g!);
  t.equal(q.held, 0);
  t.equal(q.snapshot().shadow!.held, 0, 'the shadow grant was released with the real one');
  q.tick();
  q.setPolicy(policy({ slots: 2 }));
  t.equal(q.snapshot().slots, 2);
});

t.test('createSlotQueue picks the mode', async (t) => {
  const fair = createSlotQueue('fair', P, () => 0);
  const fifo = createSlotQueue('fifo', P, () => 0);
  t.equal(fair instanceof QueueEngine && fair.ordering, 'fair');
  t.equal(fifo instanceof QueueEngine && fifo.ordering, 'fifo');
  t.ok(createSlotQueue('shadow', P, () => 0) instanceof ShadowQueue);
});
