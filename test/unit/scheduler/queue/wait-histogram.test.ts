// WaitHistogram: p99 within one bucket (√2) of the truth, recent windows only, nothing without samples.
import t from 'tap';
import { WaitHistogram } from '../../../../lib/scheduler/queue/wait-histogram.js';

t.test('no samples, no quantile', async (t) => {
  t.equal(new WaitHistogram().quantile(0.99, 0), null);
});

t.test('p99 lies within a factor √2 above the true value', async (t) => {
  const h = new WaitHistogram();
  for (let i = 1; i <= 1000; i++) h.record(i, 10);
  const p99 = h.quantile(0.99, 10)!;
  t.ok(p99 >= 990 && p99 <= 990 * Math.SQRT2, `p99 ${p99} for 1..1000 ms`);
  const p50 = h.quantile(0.5, 10)!;
  t.ok(p50 >= 500 && p50 <= 500 * Math.SQRT2, `p50 ${p50}`);
});

t.test('zero waits land in the first bucket; huge waits in the last', async (t) => {
  const h = new WaitHistogram();
  h.record(0, 0);
  t.equal(h.quantile(1, 0), 0.1);
  h.record(1e12, 0);
  t.ok(h.quantile(1, 0)! > 3_600_000 * 5, 'the last bucket (over 5 hours) holds anything longer');
});

t.test('old windows are forgotten', async (t) => {
  const h = new WaitHistogram(1000);
  for (let i = 0; i < 100; i++) h.record(5000, 0);
  t.ok(h.quantile(0.99, 500)! >= 5000, 'current window');
  t.ok(h.quantile(0.99, 1500)! >= 5000, 'previous window still counts');
  h.record(1, 1600);
  t.ok(h.quantile(0.99, 1600)! >= 5000, 'still within two windows');
  t.ok(h.quantile(0.99, 2100)! <= 1.5, 'two windows later only the recent sample is left');
  t.equal(h.quantile(0.99, 10_000), null, 'a long quiet spell clears everything');
});
