// Proves every Sluice config the bench generates loads with Sluice's own loader and says what the scenario means.
import t from 'tap';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { loadConfigFile } from '../../../../lib/config/load.js';
import { scramSecretFromPassword } from '../../../../lib/auth/scram.js';
import { sluiceConfig, sluiceNodeArgs, writeSluiceFiles } from '../../../../bench/targets/sluice-target.js';
import { ROLES } from '../../../../bench/targets/bench-postgres.js';
import { DEFAULT_POOL, type PoolSetup } from '../../../../bench/targets/target.js';
import { ALONE_SETUP, NOISY_PLANS } from '../../../../bench/scenarios/noisy-workloads.js';
import { HTTP_SETUP } from '../../../../bench/scenarios/http.js';

/** A SCRAM verifier string as pg_authid stores it. */
function verifier(password: string): string {
  const s = scramSecretFromPassword(password);
  return `SCRAM-SHA-256$${s.iterations}:${s.salt.toString('base64')}$${s.storedKey.toString('base64')}:${s.serverKey.toString('base64')}`;
}

const secrets = new Map(ROLES.map((r) => [r as string, verifier(`${r}-pw`)]));
const dir = await mkdtemp(path.join(tmpdir(), 'bench-sluice-config-'));
t.teardown(() => rm(dir, { recursive: true, force: true }));

async function load(setup: PoolSetup) {
  return loadConfigFile(await writeSluiceFiles(dir, sluiceConfig(setup, 5432, 6543), secrets));
}

t.test('the default pool: SCRAM, transaction mode, pool 20 in a shared budget of 20, every role with its verifier', async (t) => {
  const c = await load(DEFAULT_POOL);
  t.equal(c.auth_type, 'scram-sha-256');
  t.equal(c.pool_mode, 'transaction');
  t.equal(c.default_pool_size, 20);
  t.equal(c.max_server_connections, 20);
  t.equal(c.max_client_conn, DEFAULT_POOL.maxClientConn);
  t.equal(c.listen_port, 6543);
  t.equal(c.databases.get('app')?.port, 5432);
  t.same([...c.secrets.keys()].sort(), [...ROLES].sort());
  t.ok(
    [...c.secrets.values()].every((s) => s.kind === 'scram'),
    'secrets are SCRAM verifiers',
  );
  t.match(await readFile(path.join(dir, 'userlist.txt'), 'utf8'), /^"bench" "SCRAM-SHA-256\$4096:/);
});

t.test('each noisy-neighbour variant loads, with the isolation it claims', async (t) => {
  t.equal((await load(ALONE_SETUP)).scheduler.mode, 'fair');
  for (const plan of NOISY_PLANS) {
    const c = await load(plan.setup);
    t.equal(c.max_server_connections, 20, `${plan.variant}: budget 20`);
    t.equal(c.scheduler.tenant_key, 'user', `${plan.variant}: tenants are login roles`);
    if (plan.variant === 'cpu-hog') {
      t.equal(c.scheduler.adaptive.enabled, true, 'cpu-hog: adaptive limit on');
      t.equal(c.scheduler.classes.get('analytics')?.elastic, true, 'cpu-hog: an elastic class');
      t.equal(c.scheduler.class_rules[0]?.user, 'noisy', 'cpu-hog: the noisy role runs in it');
    }
    if (plan.variant === 'shares') {
      t.same(
        ['tenant_a', 'tenant_b', 'tenant_c'].map((r) => c.scheduler.tenants.get(r)?.weight),
        [1, 2, 4],
        'shares: weights 1:2:4',
      );
    }
    if (plan.variant === 'overload') t.equal(c.scheduler.tenants.get('noisy')?.max_queue, 40, 'overload: a bounded queue');
  }
});

t.test('the HTTP scenario puts tagged reports in a long-lane class', async (t) => {
  const c = await load(HTTP_SETUP);
  t.equal(c.scheduler.classes.get('report')?.lane, 'long');
});

t.test('BENCH_SLUICE_NODE_ARGS adds node options (a profiler) to the Sluice process; unset adds none', async (t) => {
  t.same(sluiceNodeArgs({}), []);
  t.same(sluiceNodeArgs({ BENCH_SLUICE_NODE_ARGS: ' --cpu-prof  --cpu-prof-dir=/tmp/p ' }), ['--cpu-prof', '--cpu-prof-dir=/tmp/p']);
});
