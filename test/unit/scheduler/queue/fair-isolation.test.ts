// Simulated isolation scenarios for QueueEngine: headroom for a short-lane victim (S1) and reservations (S6).
import t from 'tap';
import { QueueEngine } from '../../../../lib/scheduler/queue/queue-engine.js';
import type { SlotQueue } from '../../../../lib/scheduler/queue/queue-types.js';
import { policy } from '../fixtures.js';
import { exponential, fixed, Sim, uniform, type SimItem } from './sim.js';
import { FakeClock } from '../../../helpers/fake-clock.js';

const S1_POLICY = policy({ slots: 20, headroom: { min: 2, max: 2 }, classes: { batch: { lane: 'long' } } });

function s1(make: (clock: FakeClock) => SlotQueue<SimItem>) {
  const clock = new FakeClock();
  const q = make(clock);
  let floodPeak = 0;
  const s = new Sim(q, clock, {
    seed: 21,
    measureFrom: 5000,
    measureTo: 65_000,
    afterEvent: (x) => void (floodPeak = Math.max(floodPeak, x.heldBy('F'))),
  });
  s.addClients({ tenant: 'F', cls: 'batch', count: 200, holdMs: fixed(500) });
  s.addClients({ tenant: 'V', count: 2, holdMs: uniform(0.5, 1.5), thinkMs: exponential(5) });
  s.run(65_000);
  s.finish();
  const waits = s.waits.get('V')!;
  const floodTxns = s.waits.get('F')!.length;
  return { floodPeak, maxWait: Math.max(...waits), victimTxns: waits.length, floodPerSec: floodTxns / 65 };
}

t.test('S1 headroom: a long-lane flood never takes the last 2 slots; the victim never waits', async (t) => {
  const r = s1((clock) => new QueueEngine<SimItem>('fair', S1_POLICY, clock.now));
  t.equal(r.floodPeak, 18, 'flood holds at most N − H');
  t.equal(r.maxWait, 0, `victim dispatched immediately in all ${r.victimTxns} transactions`);
  t.ok(r.floodPerSec >= 0.95 * 34, `flood keeps its throughput (${r.floodPerSec.toFixed(1)} txn/s)`);
});

t.test('S1 under FIFO: the same victim queues behind the flood', async (t) => {
  const r = s1((clock) => new QueueEngine<SimItem>('fifo', S1_POLICY, clock.now));
  t.equal(r.floodPeak, 20, 'FIFO has no headroom');
  t.ok(r.maxWait > 1000, `victim waits seconds (${r.maxWait.toFixed(0)} ms)`);
});

for (const lane of ['short', 'long'] as const) {
  t.test(`S6 reservations (${lane}-lane victim): r=4 holds ≥ min(demand, 4) against a weight-10 flood`, async (t) => {
    const clock = new FakeClock();
    const p = policy({
      slots: 20,
      headroom: { min: 2, max: 6 },
      tenants: { V: { reservation: 4, weight: 1 }, F: { weight: 10 } },
      classes: { batch: { lane: 'long' }, vclass: { lane } },
    });
    const q = new QueueEngine<SimItem>('fair', p, clock.now);
    let checks = 0;
    let violations = 0;
    let vPeak = 0;
    const s = new Sim(q, clock, {
      seed: 8,
      afterEvent: (x) => {
        const v = q.snapshot().tenants.find((row) => row.tenant === 'V')!;
        const held = x.heldBy('V');
        vPeak = Math.max(vPeak, held);
        if (v.queued > 0) checks++;
        if (held < Math.min(held + v.queued, 4)) violations++;
      },
    });
    s.addClients({ tenant: 'F', cls: 'batch', count: 200, holdMs: fixed(500) });
    s.addClients({ tenant: 'V', cls: 'vclass', count: 6, holdMs: uniform(1, 50), thinkMs: exponential(30) });
    s.run(30_000);
    t.ok(checks > 100, `victim had queued demand ${checks} times`);
    t.equal(violations, 0, 'reservation met after every event');
    t.ok(vPeak > 4, `above the reservation it still uses spare headroom (peak ${vPeak})`);
  });
}

t.test('S6 without headroom protection: every freed slot goes to the tenant below its reservation', async (t) => {
  const clock = new FakeClock();
  const p = policy({ slots: 20, tenants: { V: { reservation: 4, weight: 1 }, F: { weight: 10 } } });
  const q = new QueueEngine<SimItem>('fair', p, clock.now);
  let unmetSince: number | null = null;
  let floodGrantsWhileUnmet = 0;
  let unmetEpisodes = 0;
  const s = new Sim(q, clock, {
    seed: 13,
    afterEvent: (x) => {
      const v = q.snapshot().tenants.find((row) => row.tenant === 'V')!;
      const held = x.heldBy('V');
      const floodGrants = x.waits.get('F')?.length ?? 0;
      const unmet = held < Math.min(held + v.queued, 4);
      if (unmet && unmetSince === null) {
        unmetSince = floodGrants;
        unmetEpisodes++;
      }
      if (unmet && unmetSince !== null) floodGrantsWhileUnmet += floodGrants - unmetSince;
      if (unmet) unmetSince = floodGrants;
      else unmetSince = null;
    },
  });
  s.addClients({ tenant: 'F', count: 200, holdMs: uniform(20, 40) });
  s.addClients({ tenant: 'V', count: 6, holdMs: uniform(1, 20), thinkMs: exponential(30) });
  s.run(20_000);
  t.ok(unmetEpisodes > 10, `the flood holds every slot, so the victim waits for releases (${unmetEpisodes} times)`);
  t.equal(floodGrantsWhileUnmet, 0, 'no slot went to the flood while the reservation was unmet');
  const waits = s.waits.get('V')!.sort((a, b) => a - b);
  t.ok(waits[Math.floor(waits.length * 0.99)]! < 40, 'victim waits at most about one flood hold');
});
