// Proves auth_type hba: auth_hba_file rules allow and refuse logins by user, database and address (IPv4 against IPv6), in order, reloaded with the config.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import t from 'tap';
import { captureLog } from '../helpers/log-capture.js';
import { loginRefusal, loginWith } from '../helpers/login.js';
import { APP_DB, ROLES, startTestPostgres } from '../helpers/postgres.js';
import { buildConfig, startSluice } from '../helpers/sluice.js';

const pgServer = await startTestPostgres(t);
const dir = await mkdtemp(path.join(tmpdir(), 'sluice-hba-'));
t.teardown(() => rm(dir, { recursive: true, force: true }));
const hbaPath = path.join(dir, 'hba.conf');

const RULES = [
  '# alice may use app from IPv4 loopback only; the IPv6 loopback is refused by name',
  'host    app    alice   127.0.0.1/32   md5',
  'host    app    alice   ::1/128        reject',
  'host    other  all     all            reject',
  'host    all    bob     ::1/128        scram-sha-256',
  'host    all    trusty  127.0.0.1 255.255.255.255 trust',
  'hostssl all    all     all            md5',
  'host    all    all     10.0.0.0/8     kerberos',
];
await writeFile(hbaPath, `${RULES.join('\n')}\n`);

// Dual-stack, so clients arrive both as 127.0.0.1 (seen by Node as ::ffff:127.0.0.1) and as ::1.
const overrides = {
  listen_addr: '::',
  auth_type: 'hba',
  auth_hba_file: hbaPath,
  databases: {
    [APP_DB]: { host: pgServer.host, port: pgServer.port, dbname: APP_DB },
    other: { host: pgServer.host, port: pgServer.port, dbname: APP_DB },
  },
};
const captured = captureLog('warn');
const sluice = await startSluice(t, pgServer, overrides, { log: captured.log, configSource: () => buildConfig(pgServer, overrides) });

type Who = keyof typeof ROLES;

/** Logs in from `host`, which picks the client's source address. */
function login(user: Who, host: '127.0.0.1' | '::1', database = APP_DB) {
  return loginWith({ host, port: sluice.port, user, password: ROLES[user].password, database });
}

function refusal(user: Who, host: '127.0.0.1' | '::1', database = APP_DB) {
  return loginRefusal({ host, port: sluice.port, user, password: ROLES[user].password, database });
}

t.test('a user is allowed by its rule and refused by a reject rule, by address family', async (t) => {
  t.same(
    await login('alice', '127.0.0.1'),
    { method: 'md5', user: 'alice' },
    '127.0.0.1/32 md5 matches an IPv4 client of a dual-stack listener',
  );
  t.match(await refusal('alice', '::1'), { code: '28000', severity: 'FATAL', message: 'login rejected' }, 'the ::1/128 reject rule');
  t.same(await login('bob', '::1'), { method: 'scram', user: 'bob' }, 'bob over IPv6 gets the method of his rule');
  t.same(await login('trusty', '127.0.0.1'), { method: 'trust', user: 'trusty' }, 'address-and-mask form');
});

t.test('no matching rule refuses with PgBouncer wording', async (t) => {
  t.match(await refusal('bob', '127.0.0.1'), { code: '28000', message: 'no authentication method is found' }, 'only hostssl rules remain');
  t.match(
    await refusal('trusty', '::1'),
    { code: '28000', message: 'no authentication method is found' },
    'an IPv4 rule never matches ::1',
  );
});

t.test('a database rule refuses every user of it, before later rules', async (t) => {
  t.match(await refusal('alice', '127.0.0.1', 'other'), { code: '28000', message: 'login rejected' });
  t.match(await refusal('bob', '::1', 'other'), { code: '28000', message: 'login rejected' }, "the reject rule comes before bob's");
});

t.test('a line that cannot be parsed is skipped and logged with its file and line; the rest apply', async (t) => {
  const warnings = captured.lines().filter((l) => l.msg === 'auth_hba_file: line skipped');
  t.equal(warnings.length, 1);
  t.match(warnings[0]?.warning, `${hbaPath}:${RULES.length}: unsupported authentication method "kerberos"`);
});

t.test('the rules reload with the config', async (t) => {
  await writeFile(hbaPath, `host all bob 127.0.0.1/32 md5\nhost all all all reject\nhost all all all nonsense\n`);
  sluice.pooler.reloadFromSource('test');
  t.same(await login('bob', '127.0.0.1'), { method: 'md5', user: 'bob' }, 'the new rule for bob applies');
  t.match(await refusal('alice', '127.0.0.1'), { code: '28000', message: 'login rejected' }, 'the old rule for alice is gone');
  const warnings = captured.lines().filter((l) => l.msg === 'auth_hba_file: line skipped');
  t.equal(warnings.length, 2, "the new file's skipped line is logged at reload");
  t.match(warnings[1]?.warning, `${hbaPath}:3:`);
});
