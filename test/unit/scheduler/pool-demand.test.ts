// Tests a pool's warm share: its mean concurrency rounded up plus one, at most its recent peak, fading when demand stops.
import t from 'tap';
import { PoolDemand } from '../../../lib/scheduler/pool-demand.js';

function grant(d: PoolDemand, n: number, now: number): void {
  for (let i = 0; i < n; i++) {
    d.queued++;
    d.granted(now);
  }
}

function release(d: PoolDemand, n: number, now: number): void {
  for (let i = 0; i < n; i++) d.released(now);
}

t.test('a short burst does not keep its peak warm: the share follows the mean', async (t) => {
  const d = new PoolDemand(1000, 0);
  t.equal(d.warmShare(0), 0, 'no demand, nothing kept warm');
  grant(d, 8, 10);
  t.equal(d.warmShare(10), 1, 'ten quiet milliseconds, then a burst this instant: the mean is still near zero');
  release(d, 8, 12);
  t.equal(d.active, 0);
  t.equal(d.queued, 0, 'granting takes work out of the queue');
  // One at a time for the rest of the window: the mean stays below one.
  for (let at = 20; at < 900; at += 10) {
    grant(d, 1, at);
    release(d, 1, at + 2);
  }
  t.equal(d.warmShare(900), 2, 'mean under 1: one connection plus one spare, not the burst of 8');
});

t.test('steady concurrency keeps that many warm, never more than the peak', async (t) => {
  const d = new PoolDemand(1000, 0);
  grant(d, 4, 0);
  t.equal(d.warmShare(800), 4, 'mean 4 plus a spare is capped by the peak of 4');
  release(d, 2, 800);
  t.equal(d.warmShare(1500), 4, 'mean over the last windows is still above 3');
});

t.test('demand fades after two quiet windows', async (t) => {
  const d = new PoolDemand(1000, 0);
  grant(d, 4, 100);
  release(d, 4, 600);
  t.equal(d.warmShare(1100), 3, 'the previous window still counts: mean 1.8, two plus a spare');
  t.equal(d.warmShare(2200), 0, 'two windows later only present demand counts');
});

t.test('after a long silence the present demand is the share, whatever came before', async (t) => {
  const d = new PoolDemand(1000, 0);
  grant(d, 5, 0);
  release(d, 4, 0);
  t.equal(d.warmShare(5000), 1, 'one transaction still running keeps one connection');
  grant(d, 1, 5001);
  t.equal(d.warmShare(5001), 2);
});

t.test('with no time measured yet the peak is the share', async (t) => {
  const d = new PoolDemand(1000, 50);
  grant(d, 4, 50);
  release(d, 4, 50);
  t.equal(d.warmShare(50), 4);
});

t.test('mean queued: a moment in the queue is not a backlog; a queue that stays is', async (t) => {
  const d = new PoolDemand(1000, 0);
  for (let at = 0; at < 1000; at += 5) {
    d.enqueued(at);
    d.granted(at + 0.5);
    d.released(at + 1);
  }
  t.ok(d.meanQueued(1000) < 0.2, `waiting half a millisecond now and then: ${d.meanQueued(1000).toFixed(2)}`);
  for (let i = 0; i < 4; i++) d.enqueued(1000);
  t.ok(d.meanQueued(1500) >= 1, `four waiting for half a second: ${d.meanQueued(1500).toFixed(2)}`);
  d.dequeued(1500);
  t.equal(d.queued, 3, 'a cancel leaves the queue');
  t.ok(d.meanQueued(5000) >= 2.9, 'two windows later only the present queue counts');
});
