// Tests the bounded latency window and the growth rule the adaptive gradients share.
import t from 'tap';
import { clamp, nextLimit, Reservoir } from '../../../../lib/scheduler/adaptive/latency-reservoir.js';

t.test('a window gives its percentile once, then starts empty', async (t) => {
  const r = new Reservoir(100);
  t.equal(r.take(0.5), null, 'empty');
  for (const x of [5, 1, 4, 2, 3]) r.add(x);
  t.equal(r.size, 5);
  t.equal(r.take(0.9), 5);
  t.equal(r.size, 0);
  for (const x of [5, 1, 4, 2, 3]) r.add(x);
  t.equal(r.take(0.5), 3);
});

t.test('the reservoir stays bounded and still samples the whole window', async (t) => {
  const r = new Reservoir(50);
  for (let i = 0; i < 10_000; i++) r.add(i);
  t.equal(r.size, 50);
  const median = r.take(0.5)!;
  t.ok(median > 2000 && median < 8000, `median of a uniform 0..9999 stream ≈ ${median}`);
});

t.test('the limit grows by √L at g = 1, shrinks without growth at g ≤ 0.75', async (t) => {
  t.equal(nextLimit(16, 1), 20);
  t.equal(nextLimit(16, 0.5), 8);
  t.equal(nextLimit(16, 0.75), 12);
  t.equal(nextLimit(16, 0.875), 16 * 0.875 + 4 * 0.5);
  t.equal(clamp(7, 1, 5), 5);
  t.equal(clamp(-1, 0, 5), 0);
});
