// Tests for the lazily refilled token bucket.
import t from 'tap';
import { TokenBucket } from '../../../../lib/scheduler/queue/token-bucket.js';

t.test('starts full, refills at the rate, caps at the burst', async (t) => {
  const b = new TokenBucket(10, 2, 0);
  t.ok(b.tryTake(0));
  t.ok(b.tryTake(0));
  t.notOk(b.tryTake(0), 'empty after the burst');
  t.equal(b.readyAt(0), 100, 'one token per 100 ms at 10/s');
  t.notOk(b.tryTake(99));
  t.ok(b.tryTake(100));
  t.equal(b.available(10_000), 2, 'never more than the burst');
});

t.test('take() may borrow, pushing readyAt out', async (t) => {
  const b = new TokenBucket(4, 1, 0);
  b.take(0);
  b.take(0);
  t.equal(b.available(0), -1);
  t.equal(b.readyAt(0), 500, 'two tokens short at 4/s');
  t.ok(b.matches(4, 1));
  t.notOk(b.matches(4, 2));
});
