// Checks the numbers of a fault's window: acknowledged and lost commits, errors, first commit, all writers back, gaps and stalls.
import t from 'tap';
import type { Ack, ClientError } from '../../../bench/faults/commit-workload.js';
import { windowNumbers } from '../../../bench/faults/fault-window.js';

const W = 1_000_000_000;
const ack = (writer: number, seq: number, sentAt: number, ackAt: number): Ack => ({ id: writer * W + seq, sentAt, ackAt });

// Two writers, in the order the acks came; the fault takes effect at 100. Writer 0 commits on; writer 1 stalls from 90 to 400.
const acks: Ack[] = [
  ack(0, 1, 80, 85),
  ack(1, 1, 85, 90),
  ack(0, 2, 95, 105),
  ack(0, 3, 110, 120),
  ack(0, 4, 240, 250),
  ack(0, 5, 370, 380),
  ack(1, 2, 95, 400),
  ack(1, 3, 401, 410),
];
const errors: ClientError[] = [
  { writer: 1, at: 150, what: '57P01 terminating' },
  { writer: 1, at: 151, what: '57P01 terminating' },
  { writer: 0, at: 50, what: 'before' },
];
const window = { from: 100, effectAt: 100, to: 450, writers: 2 };

t.test('commits in the window, and those missing from the table', async (t) => {
  const stored = new Set(acks.map((a) => a.id).filter((id) => id !== 1 * W + 3));
  const n = windowNumbers(window, acks, errors, stored);
  t.equal(n.acked, 6, 'acknowledged between 100 and 450');
  t.equal(n.lost, 1);
  t.same(n.lostIds, [1 * W + 3]);
});

t.test('errors in the window, counted by message', async (t) => {
  const n = windowNumbers(window, acks, errors, new Set(acks.map((a) => a.id)));
  t.equal(n.errors, 2);
  t.equal(n.errorKinds, '2× 57P01 terminating');
});

t.test('recovery: first commit sent after the fault, every writer back, the longest gap and stall', async (t) => {
  const n = windowNumbers(window, acks, errors, new Set(acks.map((a) => a.id)));
  t.equal(n.firstCommitMs, 20, 'writer 0 sent at 110 and got it at 120');
  t.equal(n.allBackMs, 310, "writer 1's first commit sent after the fault came at 410");
  t.equal(n.longestGapMs, 130, 'nobody committed between 120 and 250, nor between 250 and 380');
  t.equal(n.longestStallMs, 310, 'writer 1 went from 90 to 400 without a commit');
});

t.test('a writer that never commits again leaves all-writers-back unknown', async (t) => {
  const n = windowNumbers({ ...window, writers: 3 }, acks, errors, new Set(acks.map((a) => a.id)));
  t.equal(n.allBackMs, null);
});
