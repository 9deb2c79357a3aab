// Snapshot building: wait p99 and rejections per tenant and class, class shares that add up to the tenant's.
import t from 'tap';
import { QueueEngine } from '../../../../lib/scheduler/queue/queue-engine.js';
import { maxMinShares } from '../../../../lib/scheduler/queue/queue-stats.js';
import { isRejection } from '../../../../lib/scheduler/queue/queue-types.js';
import { FakeClock } from '../../../helpers/fake-clock.js';
import { policy } from '../fixtures.js';

t.test('maxMinShares: weights split the slots, limits and demand cap, reservations are floors', async (t) => {
  const s = maxMinShares(
    [
      { weight: 3, reservation: 0, limit: Infinity, demand: 100 },
      { weight: 1, reservation: 0, limit: Infinity, demand: 100 },
    ],
    8,
  );
  t.same(
    s.map((x) => Math.round(x * 100)),
    [75, 25],
  );
  const capped = maxMinShares(
    [
      { weight: 3, reservation: 0, limit: 2, demand: 100 },
      { weight: 1, reservation: 0, limit: Infinity, demand: 100 },
    ],
    8,
  );
  t.same(
    capped.map((x) => Math.round(x * 100)),
    [25, 75],
    'a limit gives the rest to the other',
  );
  const floor = maxMinShares(
    [
      { weight: 1, reservation: 0, limit: Infinity, demand: 100 },
      { weight: 1, reservation: 6, limit: Infinity, demand: 100 },
    ],
    8,
  );
  t.same(
    floor.map((x) => Math.round(x * 100)),
    [25, 75],
    'a reservation is a floor',
  );
  t.same(maxMinShares([{ weight: 1, reservation: 0, limit: 5, demand: 0 }], 8), [0], 'no demand, no share');
});

t.test('tenant and class rows carry wait p99, shares and rejections', async (t) => {
  const clock = new FakeClock();
  const q = new QueueEngine<string>(
    'fair',
    policy({ slots: 2, tenants: { A: { weight: 3 }, B: { maxQueue: 1 } }, classes: { olap: { weight: 1, limit: 1 } } }),
    clock.now,
  );
  const a1 = q.enqueue('a1', 'A', 'default');
  const a2 = q.enqueue('a2', 'A', 'olap');
  const b1 = q.enqueue('b1', 'B', 'default');
  t.notOk(isRejection(a1) || isRejection(a2) || isRejection(b1));
  const full = q.enqueue('b2', 'B', 'default');
  t.ok(isRejection(full), 'B is over its max_queue');
  clock.t = 40;
  const g1 = q.next()!;
  const g2 = q.next()!;
  t.ok(g1 && g2);
  clock.t = 100;
  q.tick(); // accrues the running grants' slot time into the received shares
  const snap = q.snapshot();
  const A = snap.tenants.find((x) => x.tenant === 'A')!;
  const B = snap.tenants.find((x) => x.tenant === 'B')!;
  t.ok(A.waitP99Ms !== null && A.waitP99Ms >= 40 && A.waitP99Ms < 57, `A waited 40 ms: p99 ${A.waitP99Ms}`);
  t.equal(B.rejections.queue_full, 1);
  t.equal(B.classes.find((c) => c.cls === 'default')!.rejections.queue_full, 1, 'the class row counts it too');
  const olap = A.classes.find((c) => c.cls === 'olap')!;
  t.equal(olap.limit, 1);
  t.equal(olap.weight, 1);
  const classSum = A.classes.reduce((n, c) => n + c.entitledShare, 0);
  t.ok(Math.abs(classSum - A.entitledShare) < 1e-9, 'class entitlements add up to the tenant entitlement');
  const received = snap.tenants.flatMap((x) => x.classes).reduce((n, c) => n + c.receivedShare, 0);
  t.ok(Math.abs(received - 1) < 1e-9, 'received shares of all classes add up to 1');
  t.equal(B.classes[0]!.waitP99Ms === null || B.held === 1, true, 'B has a p99 only if it got a slot');
});
