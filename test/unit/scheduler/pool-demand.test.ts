// Tests a pool's warm share: its peak of granted transactions over the last window or two, fading when demand stops.
import t from 'tap';
import { PoolDemand } from '../../../lib/scheduler/pool-demand.js';

function grant(d: PoolDemand, n: number, now: number): void {
  for (let i = 0; i < n; i++) {
    d.queued++;
    d.granted(now);
  }
}

t.test('the warm share is the peak of concurrent grants, not the current count', async (t) => {
  const d = new PoolDemand(1000, 0);
  t.equal(d.warmShare(0), 0, 'no demand, nothing kept warm');
  grant(d, 3, 10);
  t.equal(d.warmShare(10), 3);
  d.released();
  d.released();
  t.equal(d.active, 1);
  t.equal(d.warmShare(500), 3, 'the peak outlives the burst');
  t.equal(d.queued, 0, 'granting takes work out of the queue');
});

t.test('a peak lasts through the next window and fades after two quiet ones', async (t) => {
  const d = new PoolDemand(1000, 0);
  grant(d, 4, 100);
  for (let i = 0; i < 4; i++) d.released();
  t.equal(d.warmShare(1100), 4, 'the previous window still counts');
  t.equal(d.warmShare(2200), 0, 'two windows later only present demand counts');
});

t.test('after a long silence the present demand is the share, whatever came before', async (t) => {
  const d = new PoolDemand(1000, 0);
  grant(d, 5, 0);
  for (let i = 0; i < 4; i++) d.released();
  t.equal(d.warmShare(5000), 1, 'one transaction still running keeps one connection');
  grant(d, 1, 5001);
  t.equal(d.warmShare(5001), 2);
});
