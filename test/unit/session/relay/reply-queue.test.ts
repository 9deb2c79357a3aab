// Tests for the ring of expected replies: order, merged runs, taking from the head, growth past its first capacity.
import t from 'tap';
import { ReplyKind, ReplyQueue } from '../../../../lib/session/relay/reply-queue.js';

t.test('Pass entries in a row merge into one run; others stay apart', async (t) => {
  const q = new ReplyQueue();
  q.push(ReplyKind.Pass);
  q.push(ReplyKind.Pass);
  q.push(ReplyKind.Sync);
  q.push(ReplyKind.Pass);
  q.push(ReplyKind.Statement, 'stmt', 7);
  t.equal(q.size, 4);
  t.same([q.kind(0), q.count(0)], [ReplyKind.Pass, 2]);
  t.equal(q.kind(1), ReplyKind.Sync);
  t.same([q.kind(3), q.ref(3), q.aux(3)], [ReplyKind.Statement, 'stmt', 7]);
  q.setAux(3, -1);
  t.equal(q.aux(3), -1);
});

t.test('take removes requests from the head entry, and the entry once empty', async (t) => {
  const q = new ReplyQueue();
  for (let i = 0; i < 3; i++) q.push(ReplyKind.Pass);
  q.push(ReplyKind.Sync);
  q.take(2);
  t.same([q.size, q.count(0)], [2, 1]);
  q.take();
  t.same([q.size, q.kind(0)], [1, ReplyKind.Sync]);
  q.shift();
  t.equal(q.size, 0);
});

t.test('keeps order across wrap-around and growth', async (t) => {
  const q = new ReplyQueue();
  let next = 0;
  let expect = 0;
  // Interleave pushes and shifts so the head wanders around the ring while it grows.
  for (let round = 0; round < 50; round++) {
    for (let i = 0; i < 7; i++) q.push(ReplyKind.Statement, next++);
    for (let i = 0; i < 5; i++) {
      t.equal(q.ref(0), expect++);
      q.shift();
    }
  }
  t.equal(q.size, 100);
  for (let n = 0; n < q.size; n++) if (q.ref(n) !== expect + n) t.fail(`entry ${n} out of order`);
  q.clear();
  t.equal(q.size, 0);
});
