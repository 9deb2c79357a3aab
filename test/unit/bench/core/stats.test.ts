// Checks the bench statistics against hand-computed values: percentiles, summaries, share errors, Jain's index.
import t from 'tap';
import { jainIndex, percentile, ratio, shareReport, summarize, windowShareErrors } from '../../../../bench/core/stats.js';

t.test('percentile is nearest-rank on a sorted sample', async (t) => {
  const xs = Float64Array.from({ length: 100 }, (_, i) => i + 1); // 1..100
  t.equal(percentile(xs, 0.5), 50);
  t.equal(percentile(xs, 0.99), 99);
  t.equal(percentile(xs, 0.999), 100);
  t.equal(percentile(xs, 0), 1, 'p0 is the smallest');
  t.equal(percentile([7], 0.99), 7);
  t.ok(Number.isNaN(percentile([], 0.5)), 'empty sample → NaN');
});

t.test('summarize sorts its input and reports count, mean, p50, p99, p99.9 and max', async (t) => {
  const xs = [5, 1, 4, 2, 3];
  const s = summarize(xs);
  t.same(s, { count: 5, mean: 3, p50: 3, p99: 5, p999: 5, max: 5 });
  t.same(xs, [5, 1, 4, 2, 3], 'the input is left as it was');
  const tail = summarize([...Array(999).fill(1), 1000]);
  t.equal(tail.p99, 1, 'one outlier in 1000 is beyond p99');
  t.equal(tail.p999, 1, 'and at p99.9 exactly the 999th value');
  t.equal(tail.max, 1000);
  const empty = summarize([]);
  t.equal(empty.count, 0);
  t.ok(Number.isNaN(empty.mean) && Number.isNaN(empty.p99), 'empty → NaN figures');
});

t.test("Jain's index is 1 for equal values and 1/n when one takes everything", async (t) => {
  t.equal(jainIndex([3, 3, 3]), 1);
  t.equal(jainIndex([1, 0, 0, 0]), 0.25);
  t.equal(jainIndex([1, 2]), 9 / 10, '(1+2)² / (2·(1+4))');
  t.ok(Number.isNaN(jainIndex([])));
  t.ok(Number.isNaN(jainIndex([0, 0])));
});

t.test('shareReport compares achieved shares with weight-entitled shares', async (t) => {
  const exact = shareReport([10, 20, 40], [1, 2, 4]);
  t.same(exact.errors, [0, 0, 0], 'a 1:2:4 split under weights 1:2:4 has no error');
  t.equal(exact.jain, 1);
  t.equal(exact.maxError, 0);

  const equal = shareReport([1, 1, 1], [1, 2, 4]);
  t.same(equal.entitled, [1 / 7, 2 / 7, 4 / 7]);
  t.same(equal.shares, [1 / 3, 1 / 3, 1 / 3]);
  t.ok(Math.abs(equal.errors[0]! - (7 / 3 - 1)) < 1e-12, 'tenant a got 7/3 of its share: error 133%');
  t.ok(Math.abs(equal.errors[2]! - (1 - 7 / 12)) < 1e-12, 'tenant c got 7/12 of its share');
  t.equal(equal.maxError, equal.errors[0]);
  t.ok(equal.jain < 0.8, `equal split under 1:2:4 is unfair: Jain ${equal.jain}`);
  t.throws(() => shareReport([1, 2], [1]), /one weight per tenant/);
});

t.test('windowShareErrors gives the worst tenant error per window and skips empty windows', async (t) => {
  const errors = windowShareErrors(
    [
      [1, 2],
      [0, 0],
      [2, 2],
    ],
    [1, 2],
  );
  t.equal(errors.length, 2, 'the empty window is left out');
  t.equal(errors[0], 0);
  t.ok(Math.abs(errors[1]! - 0.5) < 1e-12, 'an even split under 1:2 gives tenant 1 150% of its share');
});

t.test('ratio is NaN when either side is missing, not finite, or the divisor is 0', async (t) => {
  t.equal(ratio(3, 2), 1.5);
  t.ok(Number.isNaN(ratio(3, 0)));
  t.ok(Number.isNaN(ratio(undefined, 2)));
  t.ok(Number.isNaN(ratio(3, NaN)));
});
