// Tests the admission Scheduler on fake time with fake pools: budgets shared by pools, grants, connections, timeouts, refusals, cancel, pause, reload.
import t from 'tap';
import { FakeClock } from '../../helpers/fake-clock.js';
import { poolerError } from '../../../lib/errors.js';
import { Scheduler, type BudgetPolicy } from '../../../lib/scheduler/scheduler.js';
import type { SchedulerObserver } from '../../../lib/scheduler/queue/queue-types.js';
import { policy, type PolicyInput } from './fixtures.js';
import { FakePool, FakeWaiter } from './pool-fakes.js';

function setup(p: PolicyInput = {}, mode: BudgetPolicy['mode'] = 'fair', observer?: SchedulerObserver) {
  const clock = new FakeClock(1000);
  let bp: BudgetPolicy = { mode, policy: policy({ slots: 2, ...p }), adaptive: null };
  const sched = new Scheduler(clock, { loginRetryMs: 500, policyFor: () => bp, observer });
  // Two pools (server users) of database app sharing one budget, as with max_server_connections.
  const alice = new FakePool('app/alice');
  const carol = new FakePool('app/carol');
  let n = 0;
  const start = (name: string, pool: FakePool, tenant: string, cls = 'default'): FakeWaiter => {
    const w = new FakeWaiter(name, pool);
    sched.acquire(w, tenant, cls);
    return w;
  };
  /** A login finished: the pool has a new idle connection. */
  const arrive = (pool: FakePool): void => {
    pool.connected(100 + n++);
    sched.poolIdle(pool.asPool);
  };
  /** The transaction ended: connection back to its pool first, then the slot (as ClientSession does). */
  const finish = (w: FakeWaiter): void => {
    const c = w.conn!;
    w.conn = null;
    c.pool.used--;
    c.pool.idle.push(c);
    sched.poolIdle(c.pool.asPool);
    sched.release(w);
  };
  const setPolicy = (next: BudgetPolicy): void => {
    bp = next;
    sched.applyPolicies();
  };
  return { clock, sched, alice, carol, start, arrive, finish, setPolicy };
}

t.test('first logins count against the budget: pools beyond its slots wait for room, and every one logs in', async (t) => {
  const { sched, alice, arrive, start, finish } = setup({ slots: 2 });
  const pools = [alice, ...[1, 2, 3, 4].map((i) => new FakePool(`app/u${i}`))];
  const ready: string[] = [];
  for (const p of pools) sched.whenParamsKnown(p.asPool, () => ready.push(p.name));
  const total = () => pools.reduce((sum, p) => sum + p.total, 0);
  t.equal(total(), 2, 'two slots: two logins, the other three pools wait');
  t.equal(alice.tally.conns, 2);
  arrive(pools[0]!);
  arrive(pools[1]!);
  t.same(ready, ['app/alice', 'app/u1']);
  // Their idle connections are evicted for the waiting first logins, two at a time, never above the slots.
  t.equal(total(), 2, 'the idle connections made room for two more first logins');
  arrive(pools[2]!);
  arrive(pools[3]!);
  t.equal(total(), 2);
  arrive(pools[4]!);
  t.same(ready.length, 5, 'every pool logged in');
  t.ok(total() <= 2, 'and the budget never held more than its slots');
  const w = start('w', alice, 'alice');
  t.equal(w.conn, null, 'alice lost her idle connection to the first logins');
  arrive(alice);
  t.ok(w.conn, 'and got one back by evicting another idle one');
  t.equal(total(), 2);
  finish(w);
});

t.test('a full budget never launches past its slots: a granted waiter waits for an idle connection to evict', async (t) => {
  const { alice, carol, start, finish } = setup({ slots: 2 });
  alice.warm(1);
  alice.warm(2);
  const a1 = start('a1', alice, 'alice');
  const a2 = start('a2', alice, 'alice');
  t.ok(a1.conn && a2.conn);
  const c = start('c', carol, 'carol');
  t.equal(c.conn, null);
  t.equal(carol.launched, 0, 'no slot, no launch');
  finish(a1);
  t.equal(carol.launched, 1, "the freed slot goes to carol: alice's returned connection is evicted first");
  t.equal(alice.total + carol.total, 2);
  finish(a2);
  t.equal(alice.total + carol.total, 2);
});

t.test('warm share: a pool waits for its own release rather than evict the connection another pool just used', async (t) => {
  const { clock, sched, alice, carol, start, finish } = setup({ slots: 3 });
  alice.warm(1);
  alice.warm(2);
  carol.warm(3);
  const c1 = start('c1', carol, 'carol');
  finish(c1);
  t.equal(carol.idle.size, 1, 'carol used her connection a moment ago');
  const a = [start('a1', alice, 'alice'), start('a2', alice, 'alice'), start('a3', alice, 'alice')];
  t.ok(a[0]!.conn && a[1]!.conn, 'alice runs on her own two connections');
  t.equal(a[2]!.grant, null, "her third transaction is not granted: it would evict carol's warm connection");
  t.equal(carol.idle.first()?.closedFor ?? null, null);
  t.equal(sched.snapshots().get('app')?.idle.reason, 'connection', 'the free slot is accounted as waiting for a connection');
  const c2 = start('c2', carol, 'carol');
  t.equal(c2.conn?.id, 3, 'carol takes the free slot at once, on her warm connection: no login');
  finish(c2);
  finish(a[0]!);
  t.ok(a[2]!.conn, "alice's own released connection serves her next transaction");
  t.equal(carol.launched + alice.launched, 0, 'nobody logged in');
  finish(a[1]!);
  finish(a[2]!);
  // Two windows without carol: her share fades and alice's next burst may take the connection over.
  clock.advance(2500);
  const b = [1, 2, 3].map((i) => start(`b${i}`, alice, 'alice'));
  t.ok(
    b.every((w) => w.grant),
    'all three granted',
  );
  t.equal(carol.idle.size, 0, "carol's cold connection was evicted");
  t.equal(alice.launched, 1);
});

t.test('a pool with nothing in use evicts even a warm connection: nobody waits on a release that will not come', async (t) => {
  const { sched, alice, carol, start, finish } = setup({ slots: 1 });
  carol.warm(1);
  finish(start('c', carol, 'carol'));
  const a = start('a', alice, 'alice');
  t.ok(a.grant, 'granted');
  t.equal(carol.idle.size, 0, "carol's warm connection made room");
  t.equal(alice.launched, 1);
  t.equal(sched.waitingCount(alice.asPool), 1);
});

t.test('a free slot with an idle connection is granted at once, without a launch', async (t) => {
  const { sched, alice, start, finish } = setup();
  const conn = alice.warm(7);
  const w = start('w', alice, 'alice');
  t.equal(w.conn, conn);
  t.ok(w.grant, 'it holds a slot');
  t.equal(alice.launched, 0);
  t.equal(sched.waitingCount(alice.asPool), 0);
  t.equal(sched.snapshots().get('app')?.held, 1);
  finish(w);
  t.equal(w.grant, null, 'release gives the slot back');
  t.equal(sched.snapshots().get('app')?.held, 0);
});

t.test('every pool of a database shares its slots: grants stop at the budget, a release grants the next', async (t) => {
  const { sched, alice, carol, start, finish } = setup({ slots: 2 });
  alice.warm(1);
  alice.warm(2);
  carol.warm(3);
  const a1 = start('a1', alice, 'alice');
  const a2 = start('a2', alice, 'alice');
  const c1 = start('c1', carol, 'carol');
  t.ok(a1.conn && a2.conn, 'two slots, two grants');
  t.equal(c1.conn, null, 'carol waits though her pool has an idle connection: the budget is per database');
  t.ok(c1.ticket, 'queued');
  t.equal(sched.waitingCount(carol.asPool), 1);
  finish(a1);
  t.equal(c1.conn?.id, 3, 'the freed slot goes to carol, on her own connection');
});

t.test('a granted waiter without an idle connection gets a launch and the connection when it arrives', async (t) => {
  const { sched, alice, start, arrive } = setup();
  const w = start('w', alice, 'alice');
  t.ok(w.grant, 'the slot is granted');
  t.equal(w.conn, null, 'but there is no connection yet');
  t.ok(w.list, 'it waits in the pending list');
  t.equal(alice.launched, 1);
  t.equal(sched.waitingCount(alice.asPool), 1, 'waiting for a connection counts as waiting');
  arrive(alice);
  t.ok(w.conn, 'the new connection is handed over');
  t.equal(w.list, null);
  t.equal(sched.waitingCount(alice.asPool), 0);
});

t.test("at the connection budget, another pool's idle connection is evicted for the granted waiter", async (t) => {
  const { alice, carol, start, finish } = setup({ slots: 2 });
  alice.warm(1);
  alice.warm(2);
  const a1 = start('a1', alice, 'alice');
  const a2 = start('a2', alice, 'alice');
  finish(a1);
  finish(a2);
  t.equal(alice.idle.size, 2, 'alice keeps both connections idle');
  const c = start('c', carol, 'carol');
  t.equal(c.conn, null);
  t.equal(alice.idle.size, 1, "one of alice's idle connections was closed");
  t.equal(carol.launched, 1, 'and carol launched one in its place');
  t.equal(alice.idle.first()?.closedFor ?? null, null);
});

t.test("fair mode: a quiet tenant goes ahead of a flooding tenant's backlog; fifo mode: it waits its turn", async (t) => {
  for (const mode of ['fair', 'fifo'] as const) {
    const { alice, carol, start, finish } = setup({ slots: 2 }, mode);
    alice.warm(1);
    alice.warm(2);
    carol.warm(3);
    const held = [start('a1', alice, 'alice'), start('a2', alice, 'alice')];
    const backlog = [1, 2, 3].map((i) => start(`q${i}`, alice, 'alice'));
    const c = start('c', carol, 'carol');
    finish(held[0]!);
    if (mode === 'fair') {
      t.ok(c.conn, 'fair: carol takes the first freed slot');
      t.equal(backlog[0]!.conn, null);
    } else {
      t.equal(c.conn, null, "fifo: carol is behind alice's three");
      t.ok(backlog[0]!.conn);
    }
  }
});

t.test('a queue timeout is an ERROR 53300 naming tenant, class, time waited and the last server error', async (t) => {
  const { clock, sched, alice, start } = setup({ slots: 1, tenants: { alice: { queueTimeoutMs: 300 } } });
  alice.warm(1);
  const holder = start('holder', alice, 'alice');
  t.ok(holder.conn);
  const w = start('w', alice, 'alice', 'analytics');
  alice.lastError = 'connect ECONNREFUSED';
  clock.advance(299);
  t.equal(w.error, null, 'nothing before the timeout');
  clock.advance(1);
  t.equal(w.error?.code, 'SLUICE_QUERY_WAIT_TIMEOUT');
  t.equal(w.error?.sqlstate, '53300');
  t.equal(w.error?.severity, 'ERROR');
  t.equal(
    w.error?.message,
    'query_wait_timeout: tenant "alice" class "default" waited 300 ms for a server connection to app/alice (last server error: connect ECONNREFUSED)',
    'an unknown class is reported as the default class it ran in',
  );
  t.equal(w.ticket, null);
  t.equal(sched.waitingCount(alice.asPool), 0);
});

t.test('the queue timeout also bounds a granted wait for a connection, and gives the slot back', async (t) => {
  const { clock, sched, alice, start } = setup({ slots: 2, tenants: { alice: { queueTimeoutMs: 200 } } });
  const w = start('w', alice, 'alice');
  t.ok(w.list, 'granted, no connection yet');
  clock.advance(200);
  t.equal(w.error?.code, 'SLUICE_QUERY_WAIT_TIMEOUT');
  t.equal(w.grant, null);
  t.equal(w.list, null);
  t.equal(sched.snapshots().get('app')?.held, 0, 'the slot is free again');
});

t.test('refusals at enqueue: queue full 53300, slot limit 0 53400, reject-mode rate 53400', async (t) => {
  const { alice, carol, start } = setup({
    slots: 1,
    tenants: { alice: { maxQueue: 1 }, carol: { rate: { perSecond: 1, burst: 1, mode: 'reject' } }, zed: { limit: 0 } },
  });
  alice.warm(1);
  start('holder', alice, 'alice');
  const queued = start('queued', alice, 'alice');
  t.ok(queued.ticket);
  const full = start('full', alice, 'alice');
  t.equal(full.error?.code, 'SLUICE_QUEUE_FULL');
  t.equal(full.error?.sqlstate, '53300');
  t.match(full.error?.message, /^queue full: tenant "alice" class "default" /);
  const zed = start('zed', alice, 'zed');
  t.equal(zed.error?.code, 'SLUICE_TENANT_LIMIT');
  t.equal(zed.error?.sqlstate, '53400');
  const first = start('c1', carol, 'carol');
  t.equal(first.error, null, 'the first transaction takes the token');
  const second = start('c2', carol, 'carol');
  t.equal(second.error?.code, 'SLUICE_RATE_LIMITED');
  t.equal(second.error?.sqlstate, '53400');
  for (const w of [full, zed, second]) t.equal(w.error?.severity, 'ERROR', `${w.name} is an ERROR`);
});

t.test('cancel: a queued waiter leaves silently; a waiter granted but without a connection returns its slot', async (t) => {
  const { clock, sched, alice, carol, start, arrive } = setup({
    slots: 1,
    defaultTenant: { weight: 1, reservation: 0, limit: Infinity, maxQueue: Infinity, queueTimeoutMs: 300 },
  });
  const pending = start('pending', alice, 'alice');
  const queued = start('queued', carol, 'carol');
  t.ok(pending.list && queued.ticket);
  t.equal(sched.cancel(queued), true);
  t.equal(sched.cancel(queued), false, 'a second cancel is a no-op');
  t.equal(queued.ticket, null);
  t.equal(sched.cancel(pending), true);
  t.equal(pending.grant, null, 'the slot was released');
  const next = start('next', carol, 'carol');
  t.ok(next.grant, 'so the next transaction gets it');
  arrive(alice);
  t.equal(pending.conn, null, 'a cancelled waiter never gets a connection');
  clock.advance(1000);
  t.equal(queued.error, null, 'nor a timeout');
  t.equal(pending.error, null);
});

t.test("login failures: a refusal fails the pool's granted waiters; a transient failure retries after loginRetryMs", async (t) => {
  const { clock, sched, alice, carol, start, arrive } = setup({ slots: 4 });
  const [a, b] = [start('a', alice, 'alice'), start('b', alice, 'alice')];
  alice.connecting = 0;
  sched.loginFailed(alice.asPool, 'password authentication failed for user "alice"', false);
  for (const w of [a, b]) {
    t.equal(w.error?.code, 'SLUICE_SERVER_LOGIN_FAILED');
    t.equal(w.error?.message, 'could not log in to the server for app/alice: password authentication failed for user "alice"');
    t.equal(w.grant, null, 'slot returned');
  }
  const c = start('c', carol, 'carol');
  t.equal(carol.launched, 1);
  carol.connecting = 0;
  sched.loginFailed(carol.asPool, 'connect ECONNREFUSED', true);
  sched.poolIdle(carol.asPool);
  t.equal(carol.launched, 1, 'no launch storm while a retry is pending');
  clock.advance(499);
  t.equal(carol.launched, 1);
  clock.advance(1);
  t.equal(carol.launched, 2, 'relaunched after loginRetryMs');
  t.equal(c.error, null, 'still waiting');
  arrive(carol);
  t.ok(c.conn);
});

t.test('pause holds new transactions even with idle connections; resume grants them; queue timeouts still apply', async (t) => {
  const { clock, sched, alice, start } = setup({ slots: 2, tenants: { alice: { queueTimeoutMs: 300 } } });
  alice.warm(1);
  alice.warm(2);
  sched.pause('app');
  t.ok(sched.isPaused('app'));
  t.notOk(sched.isPaused('other'));
  const held = start('held', alice, 'alice');
  t.equal(held.conn, null, 'held while paused');
  sched.resume('app');
  t.ok(held.conn, 'granted on resume');
  sched.pause(null);
  t.ok(sched.isPaused('app'), 'pausing everything covers every database');
  const late = start('late', alice, 'alice');
  clock.advance(300);
  t.equal(late.error?.code, 'SLUICE_QUERY_WAIT_TIMEOUT', 'a paused wait still ends at its queue timeout');
});

t.test('reload: new limits apply to queued work at once; a mode change waits until the budget is empty', async (t) => {
  const { sched, alice, start, finish, setPolicy } = setup({ slots: 3, tenants: { alice: { limit: 1 } } });
  for (let i = 1; i <= 3; i++) alice.warm(i);
  const [a1, a2, a3] = [start('a1', alice, 'alice'), start('a2', alice, 'alice'), start('a3', alice, 'alice')];
  t.ok(a1.conn);
  t.equal(a2.conn, null, 'limit 1');
  setPolicy({ mode: 'fair', policy: policy({ slots: 3, tenants: { alice: { limit: 3 } } }), adaptive: null });
  t.ok(a2.conn && a3.conn, 'the raised limit grants the queued transactions on reload');
  setPolicy({ mode: 'fifo', policy: policy({ slots: 3 }), adaptive: null });
  t.equal(sched.snapshots().get('app')?.mode, 'fair', 'slots are held: the mode stays');
  for (const w of [a1, a2, a3]) finish(w);
  start('after', alice, 'alice');
  t.equal(sched.snapshots().get('app')?.mode, 'fifo', 'switched once nothing was held or queued');
});

t.test('forget: a pool dropped by a reload fails its granted waiters and gives their slots back', async (t) => {
  const { sched, alice, carol, start } = setup({ slots: 1 });
  const a = start('a', alice, 'alice');
  const c = start('c', carol, 'carol');
  t.ok(a.list && c.ticket);
  carol.warm(9);
  sched.forget(alice.asPool, poolerError('SLUICE_SERVER_LOGIN_FAILED', { pool: 'app/alice', reason: 'database removed by reload' }));
  t.equal(a.error?.message, 'could not log in to the server for app/alice: database removed by reload');
  t.equal(c.conn?.id, 9, 'the freed slot went to the next waiter');
});

t.test('pools with budgets of their own (no max_server_connections) do not share slots', async (t) => {
  const { sched, start } = setup({ slots: 1 });
  const own = [new FakePool('app/alice', 'app/alice'), new FakePool('app/carol', 'app/carol')];
  own[0]!.warm(1);
  own[1]!.warm(2);
  const a = start('a', own[0]!, 'alice');
  const c = start('c', own[1]!, 'carol');
  t.ok(a.conn && c.conn, 'one slot each');
  t.same([...sched.snapshots().keys()].sort(), ['app/alice', 'app/carol']);
  sched.pause('app');
  const a2 = start('a2', own[0]!, 'alice');
  t.equal(sched.waitingCount(own[0]!.asPool), 1);
  t.equal(a2.conn, null);
  const late = new FakePool('app/bob', 'app/bob');
  late.warm(3);
  const b = start('b', late, 'bob');
  t.equal(b.conn, null, 'PAUSE app holds a pool budget of database app too');
  sched.resume('app');
  t.ok(b.conn);
});

t.test('the observer hears every grant (with its wait), release (with its hold), rejection by reason and eviction', async (t) => {
  const events: string[] = [];
  const leaves = new Map<string, Set<object>>();
  const seen = (key: string, leaf: object | null): void => {
    if (!leaf) return;
    if (!leaves.has(key)) leaves.set(key, new Set());
    leaves.get(key)!.add(leaf);
  };
  const observer: SchedulerObserver = {
    granted: (leaf, b, tenant, cls, ms) => (seen(`${tenant}/${cls}`, leaf), events.push(`granted ${b} ${tenant} ${cls} waited ${ms}`)),
    released: (leaf, b, tenant, cls, ms) => (seen(`${tenant}/${cls}`, leaf), events.push(`released ${b} ${tenant} ${cls} held ${ms}`)),
    rejected: (leaf, b, tenant, cls, reason) => events.push(`rejected ${b} ${tenant} ${cls} ${reason}${leaf ? '' : ' (never queued)'}`),
    evicted: (pool) => events.push(`evicted ${pool}`),
  };
  const { clock, sched, alice, carol, start, finish } = setup(
    { slots: 1, tenants: { alice: { queueTimeoutMs: 100 }, zed: { limit: 0 } } },
    'fair',
    observer,
  );
  alice.warm(1);
  const holder = start('holder', alice, 'alice');
  const next = start('next', alice, 'alice');
  clock.advance(40);
  finish(holder);
  t.ok(next.conn);
  const late = start('late', alice, 'alice');
  clock.advance(100);
  t.equal(late.error?.code, 'SLUICE_QUERY_WAIT_TIMEOUT');
  start('zed', alice, 'zed');
  const gone = start('gone', carol, 'carol');
  sched.cancel(gone);
  finish(next);
  // alice's idle connection fills the one-slot budget, so carol's grant evicts it.
  const c = start('c', carol, 'carol');
  t.equal(c.conn, null);
  t.same(events, [
    'granted app alice default waited 0',
    'released app alice default held 40',
    'granted app alice default waited 40',
    'rejected app alice default timeout',
    'rejected app zed default limit (never queued)',
    'rejected app carol default cancel',
    'released app alice default held 100',
    'granted app carol default waited 0',
    'evicted app/alice',
  ]);
  t.equal(leaves.get('alice/default')?.size, 1, 'one leaf object for every event of (app, alice, default)');
});

t.test('the queue deadline timer is not re-armed for each later deadline, and a waiter still times out on time', async (t) => {
  class CountingClock extends FakeClock {
    armed = 0;
    override setTimer(fn: () => void, ms: number) {
      this.armed++;
      return super.setTimer(fn, ms);
    }
  }
  const clock = new CountingClock(1000);
  const bp: BudgetPolicy = { mode: 'fair', policy: policy({ slots: 1, tenants: { alice: { queueTimeoutMs: 300 } } }), adaptive: null };
  const sched = new Scheduler(clock, { loginRetryMs: 500, policyFor: () => bp });
  const alice = new FakePool('app/alice');
  alice.warm(1);
  const start = (name: string): FakeWaiter => {
    const w = new FakeWaiter(name, alice);
    sched.acquire(w, 'alice', 'default');
    return w;
  };
  const finish = (w: FakeWaiter): void => {
    const c = w.conn!;
    w.conn = null;
    alice.used--;
    alice.idle.push(c);
    sched.poolIdle(alice.asPool);
    sched.release(w);
  };
  const holder = start('holder');
  const queued: FakeWaiter[] = [];
  for (let i = 0; i < 5; i++) {
    queued.push(start(`w${i}`));
    clock.advance(10);
  }
  const before = clock.armed;
  let running = holder;
  for (const w of queued.slice(0, 4)) {
    finish(running);
    t.ok(w.conn, `${w.name} granted in turn`);
    running = w;
  }
  t.equal(clock.armed, before, 'four grants, each moving the earliest deadline later, armed no timer');
  const last = queued[4]!;
  // last was queued at 1040: its deadline is 1340; the timer armed for w0 (1300) fires first and re-arms.
  clock.advance(1339 - clock.now());
  t.equal(last.error, null, 'not before its own deadline');
  clock.advance(1);
  t.equal(last.error?.code, 'SLUICE_QUERY_WAIT_TIMEOUT', 'at its deadline');
  finish(running);
});
