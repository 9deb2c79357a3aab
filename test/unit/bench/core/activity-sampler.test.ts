// Checks the arithmetic on pg_stat_activity samples: mean busy backends and per-window sums per role.
import t from 'tap';
import { busyPerWindow, meanBusy, type ActivitySample } from '../../../../bench/core/activity-sampler.js';

const samples: ActivitySample[] = [
  { atMs: 0, busy: { a: 2, b: 4 } },
  { atMs: 500, busy: { a: 4 } },
  { atMs: 1000, busy: { b: 6, other: 9 } },
];

t.test('mean busy backends counts only the given roles, absent roles as 0', async (t) => {
  t.equal(meanBusy(samples, ['a', 'b']), (6 + 4 + 6) / 3);
  t.equal(meanBusy(samples, ['a']), 2);
  t.ok(Number.isNaN(meanBusy([], ['a'])));
});

t.test('per-window sums are in role order and window order', async (t) => {
  t.same(busyPerWindow(samples, ['a', 'b'], 1000), [
    [6, 4],
    [0, 6],
  ]);
  t.same(busyPerWindow(samples, ['b'], 250), [[4], [0], [6]]);
});
