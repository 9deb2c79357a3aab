// Tests the uncontended fast path (grantNow): the same grants, shares and accounting as enqueue() and next(), and null wherever a rule could apply.
import t from 'tap';
import { createSlotQueue, type SchedulerMode } from '../../../../lib/scheduler/queue/index.js';
import { QueueEngine } from '../../../../lib/scheduler/queue/queue-engine.js';
import { isRejection, type SlotQueue } from '../../../../lib/scheduler/queue/queue-types.js';
import type { SchedulerPolicy } from '../../../../lib/scheduler/queue/policy.js';
import { policy } from '../fixtures.js';
import { FakeClock } from '../../../helpers/fake-clock.js';
import { exponential, Sim, uniform, type SimItem } from './sim.js';

/** Tenants and classes that exercise weights, reservations, limits, elastic work, the long lane and a reject-mode rate. */
const MIXED = policy({
  slots: 6,
  burstSlotSeconds: 0.05,
  headroom: { min: 1, max: 2 },
  tenants: {
    A: { weight: 1 },
    B: { weight: 3, reservation: 1 },
    C: { weight: 2, limit: 2 },
    D: { weight: 1, rate: { perSecond: 40, burst: 2, mode: 'reject' } },
  },
  classes: { batch: { weight: 1, elastic: true }, long: { weight: 1, lane: 'long', limit: 2 } },
});

/** One simulated run; fastPath: arrivals go through grantNow first, as Scheduler.acquire does. */
function run(mode: SchedulerMode, p: SchedulerPolicy, fastPath: boolean, seed: number, thinkMs: number) {
  const clock = new FakeClock();
  const q: SlotQueue<SimItem> = createSlotQueue<SimItem>(mode, p, clock.now);
  const trace: string[] = [];
  const s = new Sim(q, clock, { seed, fastPath, afterEvent: () => void trace.push(`${clock.t}:${q.held}/${q.queued}`) });
  s.addClients({ tenant: 'A', count: 2, holdMs: uniform(1, 8), thinkMs: exponential(thinkMs) });
  s.addClients({ tenant: 'B', count: 2, holdMs: uniform(1, 8), thinkMs: exponential(thinkMs) });
  s.addClients({ tenant: 'C', count: 3, cls: 'long', holdMs: uniform(5, 40), thinkMs: exponential(thinkMs) });
  s.addClients({ tenant: 'D', count: 2, cls: 'batch', holdMs: uniform(1, 8), thinkMs: exponential(thinkMs) });
  s.run(5000);
  return { s, q, trace, snapshot: q.snapshot() };
}

for (const mode of ['fair', 'fifo', 'shadow'] as const) {
  t.test(
    `${mode}: a sequence through the fast path ends with the same shares, start tags and waits as through enqueue() and next()`,
    async (t) => {
      // Light load (long thinks): most arrivals find nothing queued; heavy load: queues form and the slow path runs too.
      for (const [seed, thinkMs] of [
        [7, 40],
        [8, 5],
      ] as const) {
        const slow = run(mode, MIXED, false, seed, thinkMs);
        const fast = run(mode, MIXED, true, seed, thinkMs);
        t.ok(fast.s.fastGrants > 0, `seed ${seed}: ${fast.s.fastGrants} of ${fast.s.dispatched} grants took the fast path`);
        t.ok(fast.s.dispatched > fast.s.fastGrants, `seed ${seed}: and the slow path granted the rest`);
        t.same(fast.trace, slow.trace, `seed ${seed}: the same held/queued after every event`);
        t.same(fast.s.waits, slow.s.waits, `seed ${seed}: the same waits`);
        t.same(fast.s.rejections, slow.s.rejections, `seed ${seed}: the same rejections`);
        t.same(
          fast.snapshot,
          slow.snapshot,
          `seed ${seed}: the same snapshot (shares, start tags, slot time, idle reasons${mode === 'shadow' ? ', the shadow' : ''})`,
        );
      }
    },
  );
}

t.test('null, with nothing changed, wherever the slow path could decide otherwise', async (t) => {
  const clock = new FakeClock();
  const p = policy({
    slots: 2,
    headroom: { min: 1, max: 1 },
    tenants: { L: { limit: 1 }, W: { rate: { perSecond: 1, burst: 1, mode: 'wait' } } },
    classes: { long: { lane: 'long' } },
  });
  const q = new QueueEngine<string>('fair', p, clock.now);
  const same = (what: string, r: unknown): void => {
    const before = JSON.stringify(q.snapshot());
    t.equal(r, null, `${what}: null`);
    t.equal(JSON.stringify(q.snapshot()), before, `${what}: nothing changed`);
  };
  const before = JSON.stringify(q.snapshot());
  t.equal(
    q.grantNow('x', 'A', 'default', () => false),
    null,
    'accept declines: null',
  );
  t.equal(JSON.stringify(q.snapshot()), before, 'accept declines: nothing changed');
  const r1 = q.grantNow('l1', 'L', 'default');
  t.ok(r1 && !isRejection(r1), 'a lone arrival is granted at once');
  same('the tenant is at its limit', q.grantNow('l2', 'L', 'default'));
  same('the lane rule keeps the last slot for short work', q.grantNow('long', 'A', 'long'));
  same('a wait-mode rate', q.grantNow('w', 'W', 'default'));
  const queued = q.enqueue('l2', 'L', 'default');
  t.notOk(isRejection(queued), 'queued behind its limit');
  same('something is queued', q.grantNow('a', 'A', 'default'));
  const r2 = q.next();
  t.equal(r2, null, 'the queued item waits for its tenant');
  const r3 = q.enqueue('a', 'A', 'default');
  t.notOk(isRejection(r3));
  const g3 = q.next();
  t.ok(g3, 'the other tenant gets the second slot through the slow path');
  same('the budget is full', q.grantNow('b', 'B', 'default'));
});

t.test('a refusal is the one enqueue() gives, counted the same', async (t) => {
  const p = policy({ slots: 2, tenants: { Z: { rate: { perSecond: 1, burst: 1, mode: 'reject' } } } });
  const make = () => new QueueEngine<string>('fair', p, new FakeClock().now);
  const a = make();
  const b = make();
  // The one token goes to a first transaction, released at once: the second finds the bucket empty.
  const first = a.grantNow('z0', 'Z', 'default');
  if (first && !isRejection(first)) a.release(first);
  b.enqueue('z0', 'Z', 'default');
  b.release(b.next()!);
  const fast = a.grantNow('z', 'Z', 'default');
  const slow = b.enqueue('z', 'Z', 'default');
  t.ok(fast && isRejection(fast), 'refused');
  t.same(fast, slow, 'the same rejection');
  t.same(a.snapshot(), b.snapshot(), 'the same counts');
});
