// Tests which slot budget a pool draws from.
import t from 'tap';
import { budgetOf } from '../../../lib/config/budget-key.js';
import { parseConfig } from '../../../lib/config/schema.js';
import type { SluiceConfig } from '../../../lib/config/types.js';

function config(settings: Record<string, unknown> = {}, app: Record<string, unknown> = {}): SluiceConfig {
  return parseConfig(
    { auth_type: 'trust', databases: { app: { host: '127.0.0.1', ...app }, other: { host: '127.0.0.1' } }, ...settings },
    { baseDir: '/' },
  );
}

t.test('budgetOf: max_server_connections makes the database one shared budget; without it each pool is its own', async (t) => {
  const own = budgetOf(config({ default_pool_size: 7 }), 'app', 'app/alice', 7);
  t.same(own, { key: 'app/alice', slots: 7 }, 'no max_server_connections: the pool alone, with its pool size, as in PgBouncer');
  t.same(
    budgetOf(config({ max_server_connections: 12 }), 'app', 'app/alice', 4),
    { key: 'app', slots: 12 },
    'the global budget is per database',
  );
  const both = config({ max_server_connections: 12 }, { max_server_connections: 3 });
  t.same(budgetOf(both, 'app', 'app/alice', 4), { key: 'app', slots: 3 }, "the database's own budget wins");
  t.same(budgetOf(both, 'other', 'other/bob', 4), { key: 'other', slots: 12 });
  t.equal(budgetOf(both, 'app', 'app/alice', 4).key, budgetOf(both, 'app', 'app/carol', 4).key, 'every pool of the database shares it');
});
