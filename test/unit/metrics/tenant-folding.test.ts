// Tests the tenant label bound: first come while there is room, then the first max_tenants by name at each rebalance.
import t from 'tap';
import { OTHER_TENANT, TenantFolding } from '../../../lib/metrics/tenant-folding.js';

t.test('tenants seen between scrapes keep their own label while there is room, then share "other"', async (t) => {
  const f = new TenantFolding(2);
  t.same(
    ['zed', 'yak', 'alpha', 'zed'].map((x) => f.label(x)),
    ['zed', 'yak', OTHER_TENANT, 'zed'],
  );
  t.equal(f.generation, 0, 'first-come labels change no generation');
});

t.test('a rebalance keeps the first max_tenants known tenants by name and reports those that lost their label', async (t) => {
  const f = new TenantFolding(2);
  f.label('zed');
  f.label('yak');
  const lost = f.rebalance(['zed', 'yak', 'alpha', 'bravo', 'alpha'], 2);
  t.same(lost.sort(), ['yak', 'zed']);
  t.equal(f.generation, 1, 'cached children must look again');
  t.same(
    ['alpha', 'bravo', 'yak', 'zed'].map((x) => f.label(x)),
    ['alpha', 'bravo', OTHER_TENANT, OTHER_TENANT],
  );
  t.same(f.rebalance(['bravo', 'alpha', 'zed'], 2), [], 'the same top set: nothing lost');
  t.equal(f.generation, 1, 'and no new generation');
});

t.test('tenants no longer known lose their label; a larger max_tenants makes room', async (t) => {
  const f = new TenantFolding(1);
  f.rebalance(['alpha', 'bravo'], 1);
  t.same(f.rebalance(['bravo'], 1), ['alpha'], 'alpha was forgotten by the scheduler');
  t.equal(f.label('bravo'), 'bravo');
  f.rebalance(['alpha', 'bravo', 'charlie'], 3);
  t.same(
    ['alpha', 'bravo', 'charlie'].map((x) => f.label(x)),
    ['alpha', 'bravo', 'charlie'],
  );
});
