// Tests for FakeClock (due order, cancellation, timers set by timers, now() during callbacks) and the fault-boundary clock.
import t from 'tap';
import { faultBoundaryClock } from '../../lib/clock.js';
import { FakeClock } from '../helpers/fake-clock.js';

t.test('time moves only on advance', async (t) => {
  const clock = new FakeClock(1000);
  t.equal(clock.now(), 1000, 'starts where told');
  clock.advance(250);
  t.equal(clock.now(), 1250);
  t.equal(new FakeClock().now(), 0, 'starts at 0 by default');
});

t.test('timers fire in due order, ties in the order they were set', async (t) => {
  const clock = new FakeClock();
  const fired: Array<[string, number]> = [];
  const at = (name: string) => () => void fired.push([name, clock.now()]);
  clock.setTimer(at('c'), 30);
  clock.setTimer(at('a'), 10);
  clock.setTimer(at('b1'), 20);
  clock.setTimer(at('b2'), 20);
  clock.setTimer(at('late'), 100);
  t.equal(clock.pending, 5);
  clock.advance(30);
  t.same(
    fired,
    [
      ['a', 10],
      ['b1', 20],
      ['b2', 20],
      ['c', 30],
    ],
    'each runs with now() at its due time',
  );
  t.equal(clock.now(), 30);
  t.equal(clock.pending, 1, 'the late one waits');
  clock.advance(69);
  t.equal(fired.length, 4, 'not yet due at 99');
  clock.advance(1);
  t.same(fired.at(-1), ['late', 100]);
  t.equal(clock.pending, 0);
});

t.test('cancel', async (t) => {
  const clock = new FakeClock();
  let fired = 0;
  const h = clock.setTimer(() => fired++, 10);
  const keep = clock.setTimer(() => fired++, 10);
  h.cancel();
  t.equal(clock.pending, 1);
  clock.advance(10);
  t.equal(fired, 1, 'only the uncancelled timer fires');
  keep.cancel();
  t.equal(clock.pending, 0, 'cancelling a fired timer is harmless');
  const victim = clock.setTimer(() => fired++, 20);
  clock.setTimer(() => victim.cancel(), 10);
  clock.advance(30);
  t.equal(fired, 1, 'a timer can cancel a later one within the same advance');
});

t.test('timers set by timers fire in the same advance when due', async (t) => {
  const clock = new FakeClock();
  const fired: Array<[string, number]> = [];
  clock.setTimer(() => {
    fired.push(['outer', clock.now()]);
    clock.setTimer(() => fired.push(['inner', clock.now()]), 5);
    clock.setTimer(() => fired.push(['beyond', clock.now()]), 50);
  }, 10);
  clock.setTimer(() => fired.push(['other', clock.now()]), 12);
  clock.advance(20);
  t.same(
    fired,
    [
      ['outer', 10],
      ['other', 12],
      ['inner', 15],
    ],
    'the inner timer is due at 15, within the advance',
  );
  t.equal(clock.pending, 1, 'the one due at 60 waits');
  clock.advance(40);
  t.same(fired.at(-1), ['beyond', 60]);
});

t.test('zero and negative delays are due immediately', async (t) => {
  const clock = new FakeClock(5);
  const fired: number[] = [];
  clock.setTimer(() => fired.push(clock.now()), 0);
  clock.setTimer(() => fired.push(clock.now()), -10);
  clock.advance(0);
  t.same(fired, [5, 5]);
});

t.test('a fault-boundary clock: a timer that throws is reported, and time and other timers go on', async (t) => {
  const fake = new FakeClock(10);
  const faults: unknown[] = [];
  const clock = faultBoundaryClock(fake, (err) => faults.push(err));
  const fired: string[] = [];
  clock.setTimer(() => {
    throw new Error('boom');
  }, 5);
  clock.setTimer(() => fired.push('after'), 6);
  const cancelled = clock.setTimer(() => fired.push('cancelled'), 7);
  cancelled.cancel();
  fake.advance(10);
  t.equal(clock.now(), 20);
  t.same(fired, ['after']);
  t.equal(faults.length, 1);
  t.match(faults[0], { message: 'boom' });
});
