// Checks examples/observability without Docker: the compose file's services, ports and mounts, the Sluice config, Prometheus and the Grafana dashboard.
import t from 'tap';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { loadConfigFile } from '../../../lib/config/load.js';
import { run } from '../../helpers/run.js';

const DIR = fileURLToPath(new URL('../../../examples/observability/', import.meta.url));
const read = (f: string): string => readFileSync(join(DIR, f), 'utf8');
const compose = parse(read('docker-compose.yml'));
const prometheus = parse(read('prometheus.yml'));
const dashboard = JSON.parse(read('grafana/dashboards/sluice.json'));
const sluice = loadConfigFile(join(DIR, 'sluice.yaml'));
const documented = new Set(
  [...readFileSync(new URL('../../../docs/metrics.md', import.meta.url), 'utf8').matchAll(/^\| `(sluice_[a-z0-9_]+)` \|/gm)].map(
    (m) => m[1]!,
  ),
);

/** `./host:/container[:ro]` mounts of a service, as [host path, container path]. */
function mounts(service: string): Array<[string, string]> {
  return (compose.services[service].volumes as string[]).map((v) => {
    const [host, container] = v.split(':');
    return [host!, container!];
  });
}

t.test('docker-compose.yml brings up Postgres, Sluice, Prometheus and Grafana, mounting files that exist', async (t) => {
  t.same(Object.keys(compose.services).sort(), ['grafana', 'postgres', 'prometheus', 'sluice']);
  const build = compose.services.sluice.build;
  t.ok(existsSync(join(DIR, build.context, build.dockerfile)), 'Sluice is built from the repository Dockerfile');
  for (const service of ['sluice', 'prometheus', 'grafana']) {
    for (const [host] of mounts(service)) t.ok(existsSync(join(DIR, host)), `${service} mounts ${host}, which exists`);
  }
  const ports = (compose.services.sluice.ports as string[]).map((p) => Number(p.split(':')[1]));
  t.same(ports, [sluice.listen_port, sluice.admin_http!.port], 'Sluice publishes its Postgres port and its admin port');
  t.same(compose.services.sluice.depends_on, { postgres: { condition: 'service_healthy' } });
  t.match(
    compose.services.sluice.healthcheck.test.join(' '),
    `http://127.0.0.1:${sluice.admin_http!.port}/readyz`,
    'its health check is /readyz',
  );
});

t.test('sluice.yaml loads, points at the compose Postgres, and serves metrics with the shared token', async (t) => {
  const db = sluice.databases.get('app')!;
  const env = compose.services.postgres.environment;
  t.same([db.host, db.dbname, db.user, db.password], ['postgres', env.POSTGRES_DB, env.POSTGRES_USER, env.POSTGRES_PASSWORD]);
  t.equal(sluice.admin_http?.listen_addr, '0.0.0.0', 'reachable from the Prometheus container');
  t.equal(sluice.admin_http?.token, read('admin-token').trim());
  t.same(
    mounts('sluice').map(([, c]) => c),
    ['/etc/sluice/sluice.yaml', '/etc/sluice/userlist.txt', '/etc/sluice/admin-token'],
    "mounted where the Dockerfile's CMD and the relative paths in sluice.yaml expect them",
  );
  t.same([...sluice.scheduler.tenants.keys()].sort(), ['alice', 'bob'], 'two tenants to watch');
});

t.test("prometheus.yml scrapes Sluice's admin port with the token file Sluice reads", async (t) => {
  const job = prometheus.scrape_configs.find((j: { job_name: string }) => j.job_name === 'sluice');
  t.same(job.static_configs[0].targets, [`sluice:${sluice.admin_http!.port}`]);
  t.equal(job.metrics_path, '/metrics');
  const tokenMount = mounts('prometheus').find(([, c]) => c === job.authorization.credentials_file);
  t.same(tokenMount, ['./admin-token', '/etc/prometheus/sluice-token'], 'the credentials file is the same admin-token');
  t.ok(mounts('prometheus').some(([h, c]) => h === './prometheus.yml' && c === '/etc/prometheus/prometheus.yml'));

  const tmp = mkdtempSync(join(tmpdir(), 'sluice-prom-'));
  t.teardown(() => rmSync(tmp, { recursive: true, force: true }));
  writeFileSync(join(tmp, 'prometheus.yml'), read('prometheus.yml').replace('/etc/prometheus/sluice-token', join(DIR, 'admin-token')));
  const r = await run('promtool', ['check', 'config', join(tmp, 'prometheus.yml')]).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return null;
    throw err;
  });
  if (r === null) t.comment('promtool is not installed; the structure above is the check');
  else t.equal(r.code, 0, `promtool check config: ${r.out} ${r.err}`);
});

t.test('the Grafana dashboard has the tenant and pool views, and every metric it queries exists', async (t) => {
  const panels = dashboard.panels as Array<{
    type: string;
    title: string;
    targets?: Array<{ expr: string }>;
    datasource?: { uid: string };
  }>;
  const titles = panels.map((p) => p.title);
  for (const want of [
    'Share: received vs entitled',
    'Queue wait p99',
    'Rejections/s by reason',
    'Slots held',
    'Transactions/s',
    'Pools',
    'Server connections by state',
  ]) {
    t.ok(titles.includes(want), `a "${want}" panel`);
  }
  const vars = new Set((dashboard.templating.list as Array<{ name: string }>).map((v) => v.name));
  for (const p of panels.filter((x) => x.type !== 'row')) {
    t.equal(p.datasource?.uid, '$' + '{datasource}', `${p.title}: uses the datasource variable`);
    t.ok(p.targets && p.targets.length > 0, `${p.title}: has queries`);
    for (const { expr } of p.targets ?? []) {
      for (const [, name] of expr.matchAll(/\b(sluice_[a-z0-9_]+)/g)) {
        const family = name!.replace(/_(bucket|sum|count)$/, '');
        t.ok(documented.has(family), `${p.title}: ${name} is a Sluice metric`);
      }
      for (const [, v] of expr.matchAll(/\$([a-z_]+)/g)) t.ok(v!.startsWith('__') || vars.has(v!), `${p.title}: $${v} is defined`);
    }
  }
  const ds = parse(read('grafana/provisioning/datasources/prometheus.yml')).datasources[0];
  t.equal(ds.url, `http://prometheus:9090`, 'Grafana reads the compose Prometheus');
  const provider = parse(read('grafana/provisioning/dashboards/sluice.yml')).providers[0];
  t.ok(
    mounts('grafana').some(([h, c]) => h === './grafana/dashboards' && c === provider.options.path),
    'the provider path is where the dashboards are mounted',
  );
});
