// Loads every examples/*.yaml as the CLI would, so the shipped examples never rot.
import t from 'tap';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadConfigFile } from '../../../lib/config/load.js';
import { budgetOf } from '../../../lib/config/budget-key.js';
import { budgetPolicy } from '../../../lib/scheduler/budget-policy.js';
import { policyProblems } from '../../../lib/scheduler/queue/policy.js';

const EXAMPLES = fileURLToPath(new URL('../../../examples/', import.meta.url));
const files = readdirSync(EXAMPLES)
  .filter((f) => f.endsWith('.yaml'))
  .sort();

t.ok(files.includes('sluice.yaml') && files.includes('multi-tenant.yaml'), `found the examples: ${files.join(', ')}`);

for (const file of files) {
  t.test(`examples/${file} loads, and every database gets a scheduler policy it accepts`, async (t) => {
    const config = loadConfigFile(join(EXAMPLES, file));
    t.ok(config.databases.size > 0);
    for (const [name] of config.databases) {
      for (const user of config.secrets.keys()) {
        const { slots } = budgetOf(config, name, `${name}/${user}`, config.default_pool_size);
        t.same(policyProblems(budgetPolicy(config, slots).policy), [], `${name} as ${user}: ${slots} slots`);
      }
    }
  });
}

t.test('examples/multi-tenant.yaml shows the isolation settings it promises', async (t) => {
  const s = loadConfigFile(join(EXAMPLES, 'multi-tenant.yaml')).scheduler;
  t.same([...s.tenants.keys()].sort(), ['acme', 'globex', 'initech'], 'three tenants');
  t.same(
    [...s.tenants.values()].map((x) => x.weight),
    [4, 2, 1],
    'with different weights',
  );
  t.ok(s.tenants.get('acme')!.reservation > 0 && s.tenants.get('acme')!.limit < Infinity, 'a reservation and a limit');
  t.equal(s.tenants.get('initech')?.rate?.mode, 'reject', 'a rate limit');
  t.ok(s.classes.get('analytics')!.limit < Infinity, 'an analytics class with a limit');
  t.ok(s.classes.has('migration'), 'a migration class');
  t.ok(
    s.class_rules.some((r) => r.application_name?.test('metabase-prod') && r.class === 'analytics'),
    'a class rule',
  );
});
