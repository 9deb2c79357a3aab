// Tests runtime tenant settings: validated like the file's tenants, layered over the file snapshot, kept across reloads that fit.
import t from 'tap';
import { ConfigError, parseConfig } from '../../../lib/config/schema.js';
import { parseTenantSettings, RuntimeTenants, withTenantOverrides } from '../../../lib/config/tenant-overrides.js';

function config(extra: Record<string, unknown> = {}) {
  return parseConfig({ auth_type: 'trust', default_pool_size: 10, databases: { app: { host: '127.0.0.1' } }, ...extra }, { baseDir: '/' });
}

function problems(fn: () => unknown): string[] {
  try {
    fn();
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  throw new Error('expected a ConfigError');
}

t.test('settings take the file format: seconds, null for none, defaults for what is left out', async (t) => {
  const s = parseTenantSettings({ weight: 3, limit: null, queue_timeout: 1.5, rate: { per_second: 20 } });
  t.same(s, {
    weight: 3,
    reservation: 0,
    limit: Infinity,
    max_clients: Infinity,
    max_queue: Infinity,
    queue_timeout: 1500,
    rate: { per_second: 20, burst: 1, mode: 'wait' },
  });
  t.ok(Object.isFrozen(s), 'frozen like the file snapshot');
});

t.test('bad settings are refused with one line per problem', async (t) => {
  t.same(problems(() => parseTenantSettings({ weight: 0, reservation: -1, colour: 'red' })).sort(), [
    'colour: unknown setting',
    'reservation: expected integer >= 0, got -1',
    'weight: expected a weight > 0, got 0',
  ]);
  t.same(
    problems(() => parseTenantSettings('heavy')),
    ['body: expected a mapping, got "heavy"'],
  );
  t.same(
    problems(() => parseTenantSettings({ reservation: 3, limit: 2 })),
    ['limit: 2 is below its reservation 3'],
  );
  t.same(
    problems(() => parseTenantSettings({ rate: { per_second: 5, mode: 'drop' } })),
    ['rate.mode: expected one of wait, reject, got "drop"'],
  );
});

t.test('overrides replace or add tenants, and "default" replaces tenants.default', async (t) => {
  const base = config({ tenants: { acme: { weight: 2 } } });
  const next = withTenantOverrides(
    base,
    new Map([
      ['acme', parseTenantSettings({ weight: 5 })],
      ['newco', parseTenantSettings({ reservation: 2 })],
      ['default', parseTenantSettings({ weight: 0.5 })],
    ]),
  );
  t.equal(next.scheduler.tenants.get('acme')?.weight, 5);
  t.equal(next.scheduler.tenants.get('newco')?.reservation, 2);
  t.equal(next.scheduler.default_tenant.weight, 0.5);
  t.equal(base.scheduler.tenants.get('acme')?.weight, 2, 'the file snapshot is untouched');
  t.equal(next.databases, base.databases, 'everything else is shared with the file snapshot');
  t.ok(Object.isFrozen(next) && Object.isFrozen(next.scheduler));
  t.equal(withTenantOverrides(base, new Map()), base, 'no overrides: the file snapshot itself');
});

t.test('reservations must still fit the smallest budget', async (t) => {
  const base = config({ tenants: { acme: { reservation: 5 } } });
  t.same(
    problems(() => withTenantOverrides(base, new Map([['newco', parseTenantSettings({ reservation: 5 })]]))),
    ["tenants: reservations add up to 10 slots, more than databases.app's budget of 10 minus headroom_min 1"],
  );
});

t.test('RuntimeTenants: a refused change keeps the last good state; reloads keep overrides while they fit', async (t) => {
  const rt = new RuntimeTenants(config());
  const c1 = rt.set('acme', parseTenantSettings({ reservation: 6 }));
  t.equal(c1.scheduler.tenants.get('acme')?.reservation, 6);
  t.throws(() => rt.set('newco', parseTenantSettings({ reservation: 6 })), ConfigError);
  t.equal(rt.override('newco'), undefined, 'the refused one is not kept');
  t.equal(rt.override('acme')?.reservation, 6, 'the earlier one is');

  const reload = rt.rebase(config({ max_client_conn: 5 }));
  t.same(reload.dropped, []);
  t.equal(reload.config.scheduler.tenants.get('acme')?.reservation, 6, 'a reload keeps runtime settings');
  t.equal(reload.config.max_client_conn, 5, 'on top of the new file');

  const shrunk = rt.rebase(config({ default_pool_size: 4 }));
  t.same(shrunk.dropped, ['acme'], 'a file whose budget no longer fits them drops them');
  t.equal(shrunk.config.scheduler.tenants.has('acme'), false);
  t.equal(rt.override('acme'), undefined);

  rt.set('acme', parseTenantSettings({ weight: 2 }));
  t.equal(rt.set('acme', null).scheduler.tenants.has('acme'), false, 'null removes the override');
});
