// Tests for QueueEngine's API: queueing, caps, rejections, timeouts, rate limits, headroom, reload and GC.
import t from 'tap';
import { QueueEngine } from '../../../../lib/scheduler/queue/queue-engine.js';
import type { Grant, Ticket } from '../../../../lib/scheduler/queue/queue-nodes.js';
import { isRejection, type Rejection, type SchedulerOptions } from '../../../../lib/scheduler/queue/queue-types.js';
import { FakeClock } from '../../../helpers/fake-clock.js';
import { policy, type PolicyInput } from '../fixtures.js';

function setup(p: PolicyInput = {}, options: SchedulerOptions = {}) {
  const clock = new FakeClock();
  const q = new QueueEngine<string>('fair', policy(p), clock.now, options);
  const add = (item: string, tenant: string, cls = 'default'): Ticket<string> => {
    const r = q.enqueue(item, tenant, cls);
    if (isRejection(r)) throw new Error(`unexpected rejection ${r.reason}`);
    return r;
  };
  const drain = (): Grant<string>[] => {
    const out: Grant<string>[] = [];
    for (let g = q.next(); g; g = q.next()) out.push(g);
    return out;
  };
  return { clock, q, add, drain };
}

const items = (gs: Grant<string>[]): string[] => gs.map((g) => g.item);

t.test('enqueue, next and release move counters and fill the grant', async (t) => {
  const { clock, q, add, drain } = setup({ slots: 2 });
  add('a1', 'A');
  add('a2', 'A');
  add('a3', 'A');
  t.equal(q.queued, 3);
  clock.t = 5;
  const gs = drain();
  t.same(items(gs), ['a1', 'a2'], 'FIFO within a leaf, two slots');
  t.equal(q.held, 2);
  t.equal(q.queued, 1);
  t.equal(gs[0]!.tenant, 'A');
  t.equal(gs[0]!.cls, 'default');
  t.equal(gs[0]!.waitedMs, 5);
  t.equal(q.next(), null, 'no free slot');
  clock.t = 15;
  q.release(gs[0]!);
  q.release(gs[0]!);
  t.equal(q.held, 1, 'a second release of the same grant is ignored');
  t.same(items(drain()), ['a3']);
  const snap = q.snapshot();
  t.equal(snap.tenants.find((x) => x.tenant === 'A')!.classes[0]!.slotMs, 10);
});

t.test('unknown classes share the default leaf', async (t) => {
  const { q, add } = setup({ classes: { olap: { lane: 'long' } } });
  t.equal(add('x', 'A', 'mystery').cls, 'default');
  t.equal(add('y', 'A', 'olap').cls, 'olap');
  t.same(
    q
      .snapshot()
      .tenants[0]!.classes.map((c) => c.cls)
      .sort(),
    ['default', 'olap'],
  );
});

t.test('queue_full and limit rejections are counted', async (t) => {
  const { q, add } = setup({ tenants: { A: { maxQueue: 2 }, Z: { limit: 0 } }, classes: { off: { limit: 0 } } });
  add('1', 'A');
  add('2', 'A');
  const full = q.enqueue('3', 'A', 'default') as Rejection;
  t.same(full, { reason: 'queue_full', tenant: 'A', cls: 'default', waitedMs: 0 });
  t.equal((q.enqueue('z', 'Z', 'default') as Rejection).reason, 'limit');
  t.equal((q.enqueue('o', 'B', 'off') as Rejection).reason, 'limit');
  const snap = q.snapshot();
  t.equal(snap.rejections.queue_full, 1);
  t.equal(snap.rejections.limit, 2);
  t.equal(snap.tenants.find((x) => x.tenant === 'A')!.rejections.queue_full, 1);
});

t.test('remove() takes a queued item out, once', async (t) => {
  const { q, add, drain } = setup({ slots: 1 });
  add('a', 'A');
  const b = add('b', 'A');
  const c = add('c', 'B');
  t.ok(q.remove(b));
  t.notOk(q.remove(b), 'already gone');
  const seen: string[] = [];
  for (let gs = drain(); gs.length > 0; gs = drain()) {
    for (const g of gs) {
      seen.push(g.item);
      if (g.ticket === c) t.notOk(q.remove(c), 'dispatched tickets are not queued');
      q.release(g);
    }
  }
  t.same(seen.sort(), ['a', 'c'], 'the removed item is never dispatched');
  t.equal(q.queued, 0);
  t.equal(q.snapshot().rejections.cancel, 1);
  const other = new QueueEngine<string>('fair', policy(), () => 0);
  const d = other.enqueue('d', 'A', 'default') as Ticket<string>;
  t.notOk(q.remove(d), 'a ticket of another queue is refused');
});

t.test('expire() and nextDeadline() follow the smaller of tenant and class timeouts', async (t) => {
  const { clock, q, add } = setup({ slots: 1, tenants: { A: { queueTimeoutMs: 1000 } }, classes: { fast: { queueTimeoutMs: 300 } } });
  t.equal(q.nextDeadline(), null);
  add('hold', 'B');
  t.ok(q.next());
  add('slow', 'A');
  clock.t = 10;
  add('quick', 'A', 'fast');
  t.equal(q.nextDeadline(), 310);
  clock.t = 309;
  t.same(q.expire(), []);
  clock.t = 310;
  const [gone, ...rest] = q.expire();
  t.same(rest, []);
  t.equal(gone!.item, 'quick');
  t.same(gone!.rejection, { reason: 'timeout', tenant: 'A', cls: 'fast', waitedMs: 300 });
  t.equal(gone!.ticket.item, 'quick', 'the ticket comes along, for mirrors');
  t.equal(q.nextDeadline(), 1000);
  clock.t = 2000;
  t.same(
    q.expire().map((e) => e.item),
    ['slow'],
  );
  t.equal(q.nextDeadline(), null);
  t.equal(q.queued, 0);
  t.equal(q.snapshot().rejections.timeout, 2);
});

t.test('wait-mode rate limit parks the tenant until a token arrives, without idling others', async (t) => {
  const { clock, q, add, drain } = setup({ slots: 10, tenants: { A: { rate: { perSecond: 10, burst: 2, mode: 'wait' } } } });
  for (let i = 0; i < 5; i++) add(`a${i}`, 'A');
  t.same(items(drain()), ['a0', 'a1'], 'burst of two');
  const snap = q.snapshot();
  t.equal(snap.idle.reason, 'rate');
  t.equal(snap.tenants[0]!.blocked, 'rate');
  t.equal(q.nextDeadline(), 100, 'the caller arms one timer for the next token');
  add('b0', 'B');
  t.same(items(drain()), ['b0'], 'other tenants still dispatch');
  clock.t = 99;
  t.same(drain(), []);
  clock.t = 100;
  t.same(items(drain()), ['a2']);
  clock.t = 150;
  t.same(drain(), [], 'half a token is not enough');
  clock.t = 200;
  t.same(items(drain()), ['a3']);
  t.ok(q.snapshot().idle.slotMs.rate > 0, 'idle slot time is attributed to the rate limit');
});

t.test('reject-mode rate limit refuses at enqueue', async (t) => {
  const { clock, q, add } = setup({ tenants: { A: { rate: { perSecond: 10, burst: 2, mode: 'reject' } } } });
  add('1', 'A');
  add('2', 'A');
  t.equal((q.enqueue('3', 'A', 'default') as Rejection).reason, 'rate');
  clock.t = 100;
  add('4', 'A');
  t.equal(q.snapshot().rejections.rate, 1);
});

t.test('tenant and class limits park and re-arm on release', async (t) => {
  const { q, add, drain } = setup({ tenants: { A: { limit: 3 } }, classes: { olap: { limit: 1 } } });
  for (let i = 0; i < 4; i++) add(`o${i}`, 'A', 'olap');
  for (let i = 0; i < 4; i++) add(`d${i}`, 'A');
  const held = new Set(drain());
  t.equal(held.size, 3, 'tenant limit 3');
  t.equal(q.snapshot().idle.reason, 'limit');
  t.equal(q.snapshot().tenants[0]!.blocked, 'limit');
  add('b', 'B');
  t.same(items(drain()), ['b'], 'a capped tenant does not block others');
  let olapSeen = 0;
  while (held.size > 0) {
    const olap = [...held].filter((g) => g.cls === 'olap').length;
    t.ok(olap <= 1 && held.size <= 3, 'class limit 1 and tenant limit 3 hold');
    const first = held.values().next().value!;
    held.delete(first);
    q.release(first);
    for (const g of drain()) {
      held.add(g);
      if (g.cls === 'olap') olapSeen++;
    }
  }
  t.ok(olapSeen >= 3, 'olap work flows one at a time');
  t.equal(q.queued, 0);
});

t.test('a class total limit caps the class across tenants; the others keep running', async (t) => {
  const { q, add, drain } = setup({ slots: 6, classes: { migration: { totalLimit: 1 } } });
  for (const tenant of ['A', 'B', 'C']) for (let i = 0; i < 2; i++) add(`${tenant}m${i}`, tenant, 'migration');
  add('A1', 'A');
  add('B1', 'B');
  const held = new Set(drain());
  const migrations = (): number => [...held].filter((g) => g.cls === 'migration').length;
  t.equal(migrations(), 1, 'one migration at a time across all tenants');
  t.same(
    [...held]
      .filter((g) => g.cls === 'default')
      .map((g) => g.item)
      .sort(),
    ['A1', 'B1'],
    'other classes are not blocked',
  );
  t.equal(q.held, 3, 'slots stay free rather than breaking the cap');
  t.ok(
    q.snapshot().tenants.some((s) => s.classes.some((c) => c.cls === 'migration' && c.atLimit)),
    'the snapshot shows the cap',
  );
  let seen = 1;
  for (let guard = 0; guard < 10 && q.queued > 0; guard++) {
    const m = [...held].find((g) => g.cls === 'migration')!;
    held.delete(m);
    q.release(m);
    for (const g of drain()) held.add(g);
    t.equal(migrations(), 1, 'still one after a release');
    seen++;
  }
  t.equal(seen, 6, 'every migration ran, one after another');
  t.equal(q.queued, 0);
});

t.test('a reload that raises a class total limit re-arms parked leaves', async (t) => {
  const { q, add, drain } = setup({ slots: 6, classes: { migration: { totalLimit: 1 } } });
  add('Am', 'A', 'migration');
  add('Bm', 'B', 'migration');
  add('Cm', 'C', 'migration');
  t.equal(drain().length, 1);
  q.setPolicy(policy({ slots: 6, classes: { migration: { totalLimit: 3 } } }));
  t.equal(drain().length, 2, 'the parked tenants run once the cap allows');
  t.equal(q.held, 3);
});

t.test('early reject: refused at once when the work ahead outlasts the timeout', async (t) => {
  // 2 slots, 100 ms per transaction, 1 s timeout: 21 queued ahead → 21 / 2 × 100 = 1050 ms expected.
  const { q, add, drain } = setup({ slots: 2, earlyReject: true, defaultCostMs: 100, tenants: { A: { queueTimeoutMs: 1000 } } });
  add('h1', 'A');
  add('h2', 'A');
  t.equal(drain().length, 2);
  for (let i = 0; i < 21; i++) add(`a${i}`, 'A');
  const r = q.enqueue('late', 'A', 'default');
  t.ok(isRejection(r), 'refused without waiting');
  const rej = r as Rejection;
  t.equal(rej.reason, 'early');
  t.equal(rej.waitedMs, 0);
  t.equal(rej.timeoutMs, 1000);
  t.equal(rej.expectedMs, 1050, 'work ahead × estimate / slots');
  t.equal(q.snapshot().rejections.early, 1, 'counted under its own reason');
  const other = q.enqueue('b', 'B', 'default');
  t.notOk(isRejection(other), 'another tenant with nothing ahead is queued (no timeout of its own)');
});

t.test('early reject counts the share a tenant gets among busy tenants, and can be turned off', async (t) => {
  const base = { slots: 4, tenants: { A: { queueTimeoutMs: 500 }, B: { weight: 3 } } };
  for (const earlyReject of [true, false]) {
    const { q, add, drain } = setup({ ...base, earlyReject });
    for (let i = 0; i < 12; i++) add(`b${i}`, 'B');
    drain();
    // A alone could use 4 slots: 30 ahead × 10 ms / 4 = 75 ms. Beside B (weight 3) it gets 1: 300 ms.
    for (let i = 0; i < 30; i++) add(`a${i}`, 'A');
    t.notOk(isRejection(q.enqueue('fits', 'A', 'default')), '31 × 10 ms / 1 slot ≈ 310 ms fits in 500 ms');
    for (let i = 0; i < 20; i++) q.enqueue(`more${i}`, 'A', 'default');
    const r = q.enqueue('over', 'A', 'default');
    t.equal(isRejection(r) ? r.reason : 'queued', earlyReject ? 'early' : 'queued', `earlyReject=${earlyReject}`);
  }
});

t.test('the elastic budget caps elastic classes only', async (t) => {
  let budget = 1;
  const { q, add, drain } = setup({ classes: { scan: { elastic: true } } }, { elastic: { elasticSlots: () => budget } });
  for (let i = 0; i < 3; i++) add(`s${i}`, 'A', 'scan');
  t.same(items(drain()), ['s0']);
  t.equal(q.snapshot().idle.reason, 'elastic');
  t.equal(q.snapshot().elasticHeld, 1);
  add('oltp', 'A');
  t.same(items(drain()), ['oltp']);
  budget = 3;
  t.same(items(drain()), ['s1', 's2'], 'a larger budget is picked up at the next dispatch');
});

t.test('headroom: long-lane work leaves H slots, short-lane work may use them', async (t) => {
  const { q, add, drain } = setup({ slots: 5, headroom: { min: 2, max: 2 }, classes: { batch: { lane: 'long' } } });
  for (let i = 0; i < 5; i++) add(`l${i}`, 'F', 'batch');
  t.equal(drain().length, 3);
  const snap = q.snapshot();
  t.equal(snap.idle.reason, 'headroom');
  t.equal(snap.headroomRequired, 2);
  add('s0', 'V');
  add('s1', 'V');
  t.same(items(drain()), ['s0', 's1'], 'short lane takes the headroom at once');
});

t.test('headroomFadeMs: long-lane work alone uses every slot; short work queueing brings the headroom back', async (t) => {
  const { clock, q, add, drain } = setup({
    slots: 5,
    headroom: { min: 2, max: 2 },
    headroomFadeMs: 1000,
    classes: { batch: { lane: 'long' } },
  });
  clock.t = 10_000;
  for (let i = 0; i < 8; i++) add(`l${i}`, 'F', 'batch');
  const first = drain();
  t.equal(first.length, 5, 'no short work has queued: the whole budget runs long work');
  t.equal(q.snapshot().headroomRequired, 0);
  add('s0', 'V');
  t.equal(q.snapshot().headroomRequired, 2, 'short work queued: the headroom is kept again');
  q.release(first[0]!);
  t.same(items(drain()), ['s0'], 'the first short transaction takes the next release');
  for (const g of first.slice(1, 4)) q.release(g);
  t.same(items(drain()), ['l5'], 'long work leaves 2 slots free again');
  clock.t += 1001;
  t.same(items(drain()), ['l6', 'l7'], 'a second after the last short arrival the headroom fades');
  t.equal(q.snapshot().headroomRequired, 0);
});

t.test('without headroomFadeMs the headroom is kept with no short work in sight', async (t) => {
  const { clock, q, add, drain } = setup({ slots: 5, headroom: { min: 2, max: 2 }, classes: { batch: { lane: 'long' } } });
  clock.t = 10_000;
  for (let i = 0; i < 8; i++) add(`l${i}`, 'F', 'batch');
  t.equal(drain().length, 3);
  t.equal(q.snapshot().headroomRequired, 2);
});

t.test('a tenant below its reservation wins, and its deficit widens the headroom', async (t) => {
  const { q, add, drain } = setup({
    slots: 10,
    headroom: { min: 1, max: 4 },
    tenants: { R: { reservation: 2 }, F: { weight: 100 } },
    classes: { batch: { lane: 'long' } },
  });
  t.equal(q.snapshot().reservationDeficit, 2, 'listed tenants count while idle');
  for (let i = 0; i < 20; i++) add(`f${i}`, 'F', 'batch');
  t.equal(drain().length, 7, 'free stays at H.min + deficit = 3');
  for (let i = 0; i < 3; i++) add(`r${i}`, 'R', 'batch');
  t.same(items(drain()), ['r0', 'r1'], 'the reservation is realized from the headroom, long lane or not');
  t.equal(q.snapshot().reservationDeficit, 0);
  t.equal(q.snapshot().headroomRequired, 1);
});

t.test('setPolicy applies new caps and categories to queued work', async (t) => {
  const { q, add, drain } = setup({ slots: 10 });
  for (let i = 0; i < 6; i++) add(`a${i}`, 'A', 'scan');
  const p2 = policy({ slots: 10, tenants: { A: { limit: 2 }, N: { reservation: 1 } } });
  q.setPolicy(p2);
  t.equal(drain().length, 2, 'lower limit applies to the next dispatch');
  t.ok(
    q.snapshot().tenants.some((x) => x.tenant === 'N'),
    'new listed tenants exist at once',
  );
  t.equal(q.snapshot().reservationDeficit, 1);
  const p3 = policy({ slots: 10, classes: { scan: { elastic: true } } });
  const budgeted = new QueueEngine<string>('fair', p3, () => 0, { elastic: { elasticSlots: () => 0 } });
  budgeted.enqueue('x', 'A', 'scan');
  t.equal(budgeted.next(), null, 'elastic class with no budget');
  budgeted.setPolicy(policy({ slots: 10, classes: { scan: { elastic: false } } }));
  t.equal(budgeted.next()?.item, 'x', 'reload moved the leaf out of the elastic category');
  t.throws(() => q.setPolicy(policy({ slots: 0 })), /slots/);
});

t.test('a reload that changes reservations re-ranks the reservation phase', async (t) => {
  const { q, add, drain } = setup({ slots: 4, tenants: { R1: { reservation: 3 }, R2: { reservation: 1 } } });
  for (let i = 0; i < 4; i++) {
    add(`a${i}`, 'R1');
    add(`b${i}`, 'R2');
  }
  q.setPolicy(policy({ slots: 4, tenants: { R1: { reservation: 1 }, R2: { reservation: 3 } } }));
  const gs = drain();
  t.equal(gs.filter((g) => g.tenant === 'R1').length, 1);
  t.equal(gs.filter((g) => g.tenant === 'R2').length, 3);
});

t.test('idle unlisted tenants are garbage-collected; listed ones are kept', async (t) => {
  const { clock, q, add, drain } = setup({ slots: 4, tenants: { keep: {} } }, { idleTenantTtlMs: 1000 });
  for (let i = 0; i < 500; i++) {
    add(`x${i}`, `t${i}`);
    for (const g of drain()) q.release(g);
  }
  t.equal(q.tenantCount, 501);
  clock.t = 999;
  q.tick();
  t.equal(q.tenantCount, 501, 'not before the TTL');
  clock.t = 1000;
  q.tick();
  t.equal(q.tenantCount, 1, 'only the listed tenant is left');
});

t.test('snapshot reports entitled and received shares', async (t) => {
  const { clock, q, add, drain } = setup({ slots: 4, burstSlotSeconds: 0, tenants: { A: { weight: 1 }, B: { weight: 3 } } });
  for (let i = 0; i < 8; i++) {
    add(`a${i}`, 'A');
    add(`b${i}`, 'B');
  }
  let gs = drain();
  for (let step = 0; step < 30; step++) {
    clock.t += 10;
    for (const g of gs) q.release(g);
    for (const g of gs) add(g.item, g.tenant);
    gs = drain();
  }
  const snap = q.snapshot();
  const a = snap.tenants.find((x) => x.tenant === 'A')!;
  const b = snap.tenants.find((x) => x.tenant === 'B')!;
  t.ok(Math.abs(a.entitledShare - 0.25) < 1e-9 && Math.abs(b.entitledShare - 0.75) < 1e-9, 'entitled 1:3');
  t.ok(Math.abs(a.receivedShare - 0.25) < 0.05, `received ${a.receivedShare.toFixed(3)} ≈ 0.25`);
  t.equal(a.classes[0]!.estimateMs < 10.5 && a.classes[0]!.estimateMs > 9.5, true, 'EWMA learned 10 ms holds');
});

t.test('a declined turn lets another ticket go out of turn, but never past its tenant limit or the headroom', async (t) => {
  const { q, add } = setup({ slots: 3, headroom: { min: 1, max: 1 }, tenants: { B: { limit: 1 } }, classes: { long: { lane: 'long' } } });
  add('a1', 'A');
  const b1 = add('b1', 'B');
  const b2 = add('b2', 'B');
  const decline = (item: string): boolean => item !== 'a1';
  const g = q.next(decline, () => b1);
  t.equal(g?.item, 'b1', "A's turn was declined; B's ticket took the slot instead");
  t.equal(
    q.next(decline, () => b2),
    null,
    'B is at its limit of one: nothing goes out of turn',
  );
  t.equal(q.held, 1, 'one slot held');
  const l1 = add('l1', 'C', 'long');
  const l2 = add('l2', 'C', 'long');
  t.equal(q.next(decline, () => l1)?.item, 'l1', 'long-lane work may take a slot while the headroom stays free');
  t.equal(
    q.next(decline, () => l2),
    null,
    'but not the headroom itself',
  );
  t.equal(q.queued, 3, 'a1, b2 and l2 still wait in line');
});

t.test('owes: between tenants with queued tickets, beyond the hand-over lag, within the rounded shares', async (t) => {
  const { clock, q, add } = setup({ slots: 4 });
  const a = [1, 2, 3].map((i) => add(`a${i}`, 'A'));
  const b = [1, 2, 3].map((i) => add(`b${i}`, 'B'));
  t.notOk(q.owes(b[0]!, a[0]!), 'both level: nobody is owed anything');
  // A's three run out of turn for 100 ms while B's turns are declined: B falls 300 slot-ms behind.
  const gs = a.map(
    (x) =>
      q.next(
        () => false,
        () => x,
      )!,
  );
  clock.t = 100;
  q.release(gs[0]!);
  const a4 = add('a4', 'A');
  t.notOk(q.owes(b[0]!, a[0]!), 'a granted ticket gives nothing');
  t.ok(q.owes(b[0]!, a4), 'B is owed the slot A would take next');
  t.notOk(q.owes(a4, b[0]!), 'not the other way round');
  q.release(gs[1]!);
  t.notOk(q.owes(b[0]!, a4), 'unless A would fall below its rounded-down share (2 of 4 slots) by giving it');
});

t.test('time a grant waited for its server connection is not charged to its tenant', async (t) => {
  const { clock, q, add } = setup({ slots: 2 });
  add('a', 'A');
  add('b', 'B');
  const [waited, direct] = [q.next()!, q.next()!];
  clock.t = 50;
  q.waitedForConnection(waited, 50);
  clock.t = 60;
  q.release(waited);
  q.release(direct);
  const slotMs = (name: string) => q.snapshot().tenants.find((x) => x.tenant === name)!.slotMs;
  t.equal(slotMs(waited.tenant), 10, '10 ms on its connection after a 50 ms login');
  t.equal(slotMs(direct.tenant), 60, 'the other held its connection all 60 ms');
});
