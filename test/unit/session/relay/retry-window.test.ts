// Tests for the retry window: which requests can be retried, what is kept of the pipeline, and the bound.
import t from 'tap';
import { bind, describeStatement, execute, parse, syncMsg } from '../../../helpers/wire.js';
import { RetryWindow } from '../../../../lib/session/relay/retry-window.js';

/** Feeds frames as PreparedStatements does; returns the candidate index of each named Bind/Describe ('x' for others). */
function feed(w: RetryWindow, frames: Buffer[]): (number | 'x')[] {
  return frames.map((f) => {
    w.message(f, 0, f.length);
    const type = String.fromCharCode(f[0]);
    // Named: the Bind's statement name (after an empty portal name) or the Describe's is not empty.
    if ((type === 'B' && f[6] !== 0) || (type === 'D' && f[5] === 0x53 && f[6] !== 0)) {
      const at = w.candidate(f, 0, f.length);
      if (type === 'B') w.ranRequest();
      return at;
    }
    if (type === 'E' || type === 'B') w.ranRequest();
    if (type === 'S') w.synced();
    return 'x';
  });
}

t.test('the first Bind of a pipeline, or a Describe before any Bind, can be retried with what follows', async (t) => {
  const w = new RetryWindow();
  const frames = [
    describeStatement('a'),
    describeStatement('b'),
    bind([], { statement: 'a' }),
    execute(),
    bind([], { statement: 'b' }),
    syncMsg(),
  ];
  t.same(feed(w, frames), [0, 1, 2, 'x', -1, 'x']);
  t.ok(w.holds(1));
  t.equal(String.fromCharCode(w.typeAt(1)), 'D');
  const again = w.take(1);
  t.same(again.map((b) => String.fromCharCode(b[0])).join(''), 'DBEBS', 'from the failed one through the Sync');
  t.ok(again[0].equals(frames[1]));
  t.notOk(w.holds(0), 'emptied');
});

t.test('after a Sync the next pipeline starts afresh; unnamed work before a Bind rules it out', async (t) => {
  const w = new RetryWindow();
  feed(w, [bind([], { statement: 'a' }), execute(), syncMsg()]);
  t.same(feed(w, [parse('insert'), bind(), execute(), bind([], { statement: 'b' })]), ['x', 'x', 'x', -1]);
  t.same(feed(w, [syncMsg(), bind([], { statement: 'c' })]), ['x', 0], "the window restarts at the next pipeline's first Bind");
});

t.test('messages sent again are not kept again, and long pipelines are not retried', async (t) => {
  const w = new RetryWindow();
  w.replaying = true;
  t.same(feed(w, [bind([], { statement: 'a' })]), [-1]);
  w.reset();
  const first = feed(w, [describeStatement('a')])[0] as number;
  feed(
    w,
    Array.from({ length: 70 }, () => execute()),
  );
  t.notOk(w.holds(first), 'more than 64 messages: not held whole');
});

t.test('unkeep takes back the message just kept, and only that one', async (t) => {
  const w = new RetryWindow();
  const buf = Buffer.from('abcdef');
  t.equal(w.candidate(buf, 0, 2), 0);
  w.message(buf, 2, 4);
  w.unkeep(buf, 0);
  t.ok(w.holds(1), 'not the last one: nothing changes');
  w.unkeep(buf, 2);
  t.notOk(w.holds(1));
  t.ok(w.holds(0));
});
