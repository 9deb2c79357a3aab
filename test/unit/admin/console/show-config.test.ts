// SHOW CONFIG: YAML units and defaults, dotted section keys, fixed settings, and secrets never shown.
import t from 'tap';
import { showConfig } from '../../../../lib/admin/console/show-config.js';
import type { SluiceConfig } from '../../../../lib/config/types.js';
import { fakeHost, testConfig } from '../fixtures.js';

const rowsOf = (config: SluiceConfig) => new Map(showConfig(fakeHost(config)).rows.map((r) => [String(r[0]), r.slice(1).map(String)]));

t.test('durations in seconds with their defaults; listen settings are not changeable', async (t) => {
  const rows = rowsOf(testConfig({ query_wait_timeout: 7, default_pool_size: 3 }));
  t.same(rows.get('query_wait_timeout'), ['7', '120', 'yes']);
  t.same(rows.get('default_pool_size'), ['3', '20', 'yes']);
  t.same(rows.get('shutdown_timeout'), ['20', '20', 'yes']);
  t.same(rows.get('listen_port'), ['6432', '6432', 'no']);
  t.same(rows.get('server_tls.sslmode'), ['prefer', 'prefer', 'yes']);
  t.same(rows.get('admin_users'), ['root', '', 'yes']);
  t.same(rows.get('scheduler.mode'), ['fair', 'fair', 'yes']);
  t.notOk(rows.has('secrets') || rows.has('databases') || rows.has('users'), 'shown elsewhere or secret');
});

t.test('no secret value is shown, wherever a later section puts one', async (t) => {
  const base = testConfig({ users: { app: { password: 'inline-secret' } } });
  const withSections = {
    ...base,
    metrics: { port: 9187, token: 'metrics-token' },
    admin: { api: { bearer_token: 'api-token' } },
    proxy_password: 'pw',
  } as unknown as SluiceConfig;
  const text = JSON.stringify(showConfig(fakeHost(withSections)).rows);
  for (const s of ['inline-secret', 'metrics-token', 'api-token', '"pw"']) t.notOk(text.includes(s), `${s} is hidden`);
  const rows = rowsOf(withSections);
  t.same(rows.get('metrics.port')?.[0], '9187', 'other settings of the section are shown');
  t.same(rows.get('metrics.token')?.[0], '[redacted]', 'a set secret shows only that it is set');
  t.same(rows.get('admin.api.bearer_token')?.[0], '[redacted]');
});
