// Tests the admission Scheduler on fake time: FIFO grants, launches, query_wait_timeout, login failures, cancel and pause.
import t from 'tap';
import { FakeClock } from '../../../lib/clock.js';
import type { List } from '../../../lib/list.js';
import type { PoolerError } from '../../../lib/errors.js';
import type { Pool } from '../../../lib/pool/pool.js';
import type { ServerConnection } from '../../../lib/pool/server-connection.js';
import { Scheduler, type Waiter } from '../../../lib/scheduler/scheduler.js';

/** The slice of Pool the scheduler reads: idle connections, how many are logging in, launches. */
class FakePool {
  readonly name = 'app/alice';
  readonly settings = { target: { dbname: 'app' } };
  idle: ServerConnection[] = [];
  connecting = 0;
  lastError: string | null = null;
  launched = 0;

  takeIdle(): ServerConnection | null {
    return this.idle.pop() ?? null;
  }

  launch(n: number): void {
    this.launched += n;
    this.connecting += n;
  }

  /** A launched connection finished logging in. */
  arrive(sched: Scheduler, id: number): void {
    this.connecting--;
    this.idle.push(conn(id));
    sched.dispatch(this as unknown as Pool);
  }
}

function conn(id: number): ServerConnection {
  return { id } as unknown as ServerConnection;
}

class FakeWaiter implements Waiter {
  prev: Waiter | null = null;
  next: Waiter | null = null;
  list: List<Waiter> | null = null;
  waitPool: Pool | null = null;
  enqueuedAt = 0;
  grantedId: number | null = null;
  error: PoolerError | null = null;

  constructor(readonly name: string) {}

  granted(c: ServerConnection): void {
    this.grantedId = c.id;
  }

  rejected(err: PoolerError): void {
    this.error = err;
  }
}

function setup(queryWaitTimeoutMs = 300) {
  const clock = new FakeClock(1000);
  const sched = new Scheduler(clock, { queryWaitTimeoutMs, loginRetryMs: 500 });
  const fake = new FakePool();
  return { clock, sched, fake, pool: fake as unknown as Pool };
}

t.test('an idle connection is granted at once, without a launch', async (t) => {
  const { sched, fake, pool } = setup();
  fake.idle.push(conn(7));
  const w = new FakeWaiter('a');
  sched.acquire(pool, w);
  t.equal(w.grantedId, 7);
  t.equal(fake.launched, 0);
  t.equal(w.list, null, 'no longer queued');
  t.equal(sched.waitingCount(pool), 0);
});

t.test('waiters queue, one launch each, and are granted in arrival order', async (t) => {
  const { clock, sched, fake, pool } = setup();
  const [a, b, c] = ['a', 'b', 'c'].map((n) => new FakeWaiter(n));
  sched.acquire(pool, a);
  clock.advance(10);
  sched.acquire(pool, b);
  sched.acquire(pool, c);
  t.equal(fake.launched, 3, 'no more launches than waiters not already covered by logins in flight');
  t.equal(sched.waitingCount(pool), 3);
  t.equal(sched.maxWaitMs(pool), 10, 'the longest wait is the head of the queue');
  fake.arrive(sched, 1);
  fake.arrive(sched, 2);
  t.same([a.grantedId, b.grantedId, c.grantedId], [1, 2, null], 'FIFO');
  fake.arrive(sched, 3);
  t.equal(c.grantedId, 3);
  t.equal(fake.launched, 3, 'arrivals launch nothing more');
});

t.test('query_wait_timeout rejects each waiter when its own wait reaches the limit', async (t) => {
  const { clock, sched, pool } = setup(300);
  const a = new FakeWaiter('a');
  const b = new FakeWaiter('b');
  sched.acquire(pool, a);
  clock.advance(100);
  sched.acquire(pool, b);
  clock.advance(199);
  t.same([a.error, b.error], [null, null], 'nothing before 300 ms');
  clock.advance(1);
  t.equal(a.error?.code, 'SLUICE_QUERY_WAIT_TIMEOUT');
  t.equal(a.error?.sqlstate, '53300');
  t.equal(a.error?.severity, 'ERROR', 'an ERROR: the client connection stays');
  t.equal(a.error?.message, 'query_wait_timeout: waited 300 ms for a server connection to app/alice');
  t.equal(b.error, null, 'the later waiter still has time');
  clock.advance(100);
  t.equal(b.error?.code, 'SLUICE_QUERY_WAIT_TIMEOUT');
  t.equal(sched.waitingCount(pool), 0);
});

t.test('the timeout message carries the last server error', async (t) => {
  const { clock, sched, fake, pool } = setup(300);
  fake.lastError = 'connect ECONNREFUSED 127.0.0.1:1';
  const w = new FakeWaiter('w');
  sched.acquire(pool, w);
  clock.advance(300);
  t.equal(w.error?.message, 'query_wait_timeout: waited 300 ms for a server connection to app/alice (last server error: connect ECONNREFUSED 127.0.0.1:1)');
});

t.test('query_wait_timeout 0 waits forever', async (t) => {
  const { clock, sched, fake, pool } = setup(0);
  const w = new FakeWaiter('w');
  sched.acquire(pool, w);
  clock.advance(10 * 60_000);
  t.equal(w.error, null);
  fake.arrive(sched, 1);
  t.equal(w.grantedId, 1);
});

t.test('a refused login fails every waiter at once', async (t) => {
  const { sched, pool } = setup(300);
  const [a, b] = [new FakeWaiter('a'), new FakeWaiter('b')];
  sched.acquire(pool, a);
  sched.acquire(pool, b);
  sched.loginFailed(pool, 'password authentication failed for user "alice"', false);
  for (const w of [a, b]) {
    t.equal(w.error?.code, 'SLUICE_SERVER_LOGIN_FAILED');
    t.equal(w.error?.sqlstate, '08006');
    t.equal(w.error?.message, 'could not log in to the server for app/alice: password authentication failed for user "alice"');
  }
  t.equal(sched.waitingCount(pool), 0);
});

t.test('a transient login failure retries after loginRetryMs, and waiters keep waiting', async (t) => {
  const { clock, sched, fake, pool } = setup(2000);
  const w = new FakeWaiter('w');
  sched.acquire(pool, w);
  t.equal(fake.launched, 1);
  fake.connecting = 0; // that login failed
  sched.loginFailed(pool, 'connect ECONNREFUSED', true);
  sched.dispatch(pool);
  t.equal(fake.launched, 1, 'no launch storm while a retry is pending');
  clock.advance(499);
  t.equal(fake.launched, 1);
  clock.advance(1);
  t.equal(fake.launched, 2, 'relaunched after loginRetryMs');
  t.equal(w.error, null, 'still waiting');
  fake.arrive(sched, 9);
  t.equal(w.grantedId, 9);
});

t.test('a cancelled waiter leaves the queue and is never granted or timed out', async (t) => {
  const { clock, sched, fake, pool } = setup(300);
  const [a, b] = [new FakeWaiter('a'), new FakeWaiter('b')];
  sched.acquire(pool, a);
  sched.acquire(pool, b);
  t.equal(sched.cancel(a), true);
  t.equal(sched.cancel(a), false, 'cancelling twice is a no-op');
  fake.arrive(sched, 1);
  t.same([a.grantedId, b.grantedId], [null, 1]);
  clock.advance(1000);
  t.equal(a.error, null);
});

t.test('pause holds waiters even with idle connections; resume grants them; the timeout still applies', async (t) => {
  const { clock, sched, fake, pool } = setup(300);
  sched.pause('app');
  t.ok(sched.isPaused('app'));
  t.notOk(sched.isPaused('other'));
  fake.idle.push(conn(1));
  const held = new FakeWaiter('held');
  sched.acquire(pool, held);
  t.equal(held.grantedId, null, 'held while paused');
  sched.resume('app', [pool]);
  t.equal(held.grantedId, 1, 'granted on resume');

  sched.pause(null);
  t.ok(sched.isPaused('app'), 'pausing everything covers every database');
  const late = new FakeWaiter('late');
  sched.acquire(pool, late);
  clock.advance(300);
  t.equal(late.error?.code, 'SLUICE_QUERY_WAIT_TIMEOUT', 'a paused wait still ends at query_wait_timeout');
});
