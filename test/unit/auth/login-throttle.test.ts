// LoginThrottle on fake time: the limit within a window, the lockout and its end, other addresses untouched, reload, bounded memory.
import t from 'tap';
import { FakeClock } from '../../helpers/fake-clock.js';
import { LoginThrottle, type ThrottleSettings } from '../../../lib/auth/login-throttle.js';

function setup(over: Partial<ThrottleSettings> = {}, capacity?: number) {
  const clock = new FakeClock(1000);
  let settings: ThrottleSettings = { auth_failure_limit: 3, auth_failure_window: 60_000, auth_failure_lockout: 30_000, ...over };
  const locked: Array<[string, number, number]> = [];
  const refused: string[] = [];
  const throttle = new LoginThrottle(
    clock,
    () => settings,
    {
      locked: (a, n, ms) => void locked.push([a, n, ms]),
      refused: (a) => void refused.push(a),
    },
    capacity,
  );
  const fail = (address: string, n: number) => {
    for (let i = 0; i < n; i++) throttle.failed(address);
  };
  return { clock, throttle, locked, refused, fail, set: (s: Partial<ThrottleSettings>) => (settings = { ...settings, ...s }) };
}

t.test('an address is refused for auth_failure_lockout once it reaches auth_failure_limit within the window', async (t) => {
  const { clock, throttle, locked, refused, fail } = setup();
  fail('10.0.0.9', 2);
  t.equal(throttle.refusedFor('10.0.0.9'), 0, 'below the limit it may log in');
  fail('10.0.0.9', 1);
  t.same(locked, [['10.0.0.9', 3, 30_000]], 'the third failure locks it, once');
  t.equal(throttle.refusedFor('10.0.0.9'), 30_000, 'refused for the whole lockout');
  clock.advance(29_999);
  t.equal(throttle.refusedFor('10.0.0.9'), 1, 'still refused 1 ms before the end');
  t.same(refused, ['10.0.0.9', '10.0.0.9'], 'each refusal is reported');
  clock.advance(1);
  t.equal(throttle.refusedFor('10.0.0.9'), 0, 'free again when the lockout ends');
  t.equal(throttle.refusedFor('10.0.0.8'), 0, 'another address never was refused');
});

t.test('failures spread over more than a window never add up to a lockout', async (t) => {
  const { clock, throttle, locked, fail } = setup();
  fail('10.0.0.9', 2);
  clock.advance(60_000);
  fail('10.0.0.9', 2);
  t.equal(throttle.refusedFor('10.0.0.9'), 0);
  t.same(locked, [], 'a new window starts the count again');
});

t.test('a failure after the lockout, in the same window, locks the address again at once', async (t) => {
  const { clock, throttle, locked, fail } = setup();
  fail('10.0.0.9', 3);
  clock.advance(30_000);
  fail('10.0.0.9', 1);
  t.equal(throttle.refusedFor('10.0.0.9'), 30_000);
  t.equal(locked.length, 2);
  clock.advance(30_000);
  fail('10.0.0.9', 1);
  t.equal(throttle.refusedFor('10.0.0.9'), 0, 'once the window has passed, one failure is just one');
});

t.test('failures of logins that end during the lockout do not extend it', async (t) => {
  const { clock, throttle, locked, fail } = setup();
  fail('10.0.0.9', 3);
  clock.advance(10_000);
  fail('10.0.0.9', 5);
  t.equal(throttle.refusedFor('10.0.0.9'), 20_000);
  t.equal(locked.length, 1);
});

t.test('settings are read on every call: a reload applies at once, and a limit of 0 turns it off', async (t) => {
  const { throttle, set, fail } = setup();
  fail('10.0.0.9', 3);
  set({ auth_failure_limit: 0 });
  t.equal(throttle.refusedFor('10.0.0.9'), 0, 'off: nobody is refused');
  fail('10.0.0.7', 10);
  t.equal(throttle.size, 1, 'and failures are not even remembered');
  set({ auth_failure_limit: 3, auth_failure_lockout: 0 });
  fail('10.0.0.7', 3);
  t.equal(throttle.refusedFor('10.0.0.7'), 0, 'a lockout of 0 refuses nobody');
});

t.test('memory is bounded: past the capacity, the address whose last failure is oldest is forgotten', async (t) => {
  const { throttle, fail } = setup({}, 3);
  fail('a', 3);
  fail('b', 1);
  fail('c', 1);
  fail('a', 1);
  fail('d', 1);
  t.equal(throttle.size, 3, 'never more than the capacity');
  t.ok(throttle.refusedFor('a') > 0, 'a failed most recently but one, so it is kept, locked');
  fail('e', 1);
  fail('f', 1);
  t.equal(throttle.refusedFor('a'), 0, 'pushed out by newer failures, a is forgotten');
  t.equal(throttle.size, 3);
});

t.test('an entry with nothing left to remember is dropped when its address is next seen', async (t) => {
  const { clock, throttle, fail } = setup();
  fail('10.0.0.9', 1);
  t.equal(throttle.size, 1);
  clock.advance(60_000);
  t.equal(throttle.refusedFor('10.0.0.9'), 0);
  t.equal(throttle.size, 0);
});
