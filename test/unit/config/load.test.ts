// Tests for loading YAML config files and diffing snapshots for reload.
import t from 'tap';
import { createHash, createHmac, pbkdf2Sync } from 'node:crypto';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { diffConfig, loadConfigFile, loadConfigText } from '../../../lib/config/load.js';
import { ConfigError } from '../../../lib/config/schema.js';

const MINIMAL = 'auth_type: trust\ndatabases:\n  app:\n    host: 127.0.0.1\n';

function problemsOf(load: () => unknown): string[] {
  try {
    load();
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  throw new Error('expected the config to be refused');
}

t.test('loadConfigText validates YAML text into a snapshot', async (t) => {
  const config = loadConfigText(`${MINIMAL}listen_port: 7000\nquery_wait_timeout: 2.5\n`, '/srv');
  t.equal(config.listen_port, 7000);
  t.equal(config.query_wait_timeout, 2500);
  t.equal(config.databases.get('app')?.port, 5432);
});

t.test('YAML syntax errors name the line and column', async (t) => {
  t.same(
    problemsOf(() => loadConfigText('auth_type: trust\nauth_type: md5\n', '/srv')),
    ['config:2:1: Map keys must be unique'],
  );
  t.same(
    problemsOf(() => loadConfigText('databases:\n  app: {host: h\n', '/srv', 'sluice.yaml')),
    ['sluice.yaml:3:1: Flow map in block collection must be sufficiently indented and end with a }'],
  );
  t.same(
    problemsOf(() => loadConfigText('listen_port: 1\n\tpool_mode: session\n', '/srv')),
    ['config:2:1: Tabs are not allowed as indentation'],
  );
});

t.test('validation problems come through loadConfigText unchanged', async (t) => {
  t.same(
    problemsOf(() => loadConfigText(`${MINIMAL}    port: abc\n`, '/srv')),
    ['databases.app.port: expected integer 1-65535, got "abc"'],
  );
  t.same(
    problemsOf(() => loadConfigText('', '/srv')),
    ['config: expected a mapping of settings, got an empty value'],
  );
});

t.test('merge keys share settings between databases; alias bombs are refused', async (t) => {
  const config = loadConfigText(
    [
      'auth_type: trust',
      'databases:',
      '  app: &defaults {host: db.internal, pool_size: 7}',
      '  reports:',
      '    <<: *defaults',
      '    dbname: app',
    ].join('\n'),
    '/srv',
  );
  t.same(config.databases.get('reports'), { name: 'reports', host: 'db.internal', port: 5432, dbname: 'app', pool_size: 7 });
  const bomb = [
    'a: &a [x, x, x, x, x, x, x, x, x, x]',
    'b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]',
    'c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]',
    'd: [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]',
  ].join('\n');
  t.same(
    problemsOf(() => loadConfigText(bomb, '/srv')),
    ['config: Excessive alias count indicates a resource exhaustion attack'],
  );
});

t.test("loadConfigFile resolves auth_file and TLS files against the file's directory", async (t) => {
  const dir = t.testdir({
    'sluice.yaml': [
      'auth_type: md5',
      'auth_file: secrets/userlist.txt',
      'admin_users: [alice]',
      'client_tls: {cert_file: tls/server.crt, key_file: tls/server.key}',
      'databases: {app: {host: 127.0.0.1}}',
    ].join('\n'),
    secrets: { 'userlist.txt': '"alice" "pw"\n' },
    tls: { 'server.crt': 'cert', 'server.key': 'key' },
  });
  const config = loadConfigFile(join(dir, 'sluice.yaml'));
  t.equal(config.auth_file, join(dir, 'secrets/userlist.txt'));
  t.same(config.client_tls, { cert_file: join(dir, 'tls/server.crt'), key_file: join(dir, 'tls/server.key') });
  t.same([...config.secrets.keys()], ['alice']);
});

t.test('loadConfigFile reports missing files and names the file in YAML errors', async (t) => {
  const dir = t.testdir({
    'missing-tls.yaml': 'auth_type: trust\nclient_tls: {cert_file: nope.crt, key_file: nope.key}\ndatabases: {app: {host: h}}\n',
    'bad.yaml': 'databases: [\n',
  });
  t.same(
    problemsOf(() => loadConfigFile(join(dir, 'missing-tls.yaml'))),
    [`client_tls.cert_file: cannot read ${join(dir, 'nope.crt')}`, `client_tls.key_file: cannot read ${join(dir, 'nope.key')}`],
  );
  t.same(
    problemsOf(() => loadConfigFile(join(dir, 'absent.yaml'))),
    [`${join(dir, 'absent.yaml')}: cannot read config file (ENOENT)`],
  );
  const [yamlProblem] = problemsOf(() => loadConfigFile(join(dir, 'bad.yaml')));
  t.match(yamlProblem, new RegExp(`^${join(dir, 'bad.yaml').replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:2:1: `));
});

t.test('the shipped example loads, and its secrets match the passwords in docs/configuration.md', async (t) => {
  const config = loadConfigFile(fileURLToPath(new URL('../../../examples/sluice.yaml', import.meta.url)));
  t.equal(config.auth_type, 'md5');
  t.same([...config.databases.keys()], ['app']);
  t.equal(config.databases.get('app')?.password, 'app-example-password');
  const bob = config.secrets.get('bob');
  t.equal(bob?.kind === 'md5' && bob.hash, `md5${createHash('md5').update('bob-example-passwordbob').digest('hex')}`);
  const alice = config.secrets.get('alice');
  t.equal(alice?.kind, 'scram');
  if (alice?.kind === 'scram') {
    const salted = pbkdf2Sync('alice-example-password', alice.salt, alice.iterations, 32, 'sha256');
    const clientKey = createHmac('sha256', salted).update('Client Key').digest();
    t.ok(createHash('sha256').update(clientKey).digest().equals(alice.storedKey), 'StoredKey matches');
    t.ok(createHmac('sha256', salted).update('Server Key').digest().equals(alice.serverKey), 'ServerKey matches');
  }
});

t.test('diffConfig lists changed settings and databases', async (t) => {
  const base = loadConfigText(`${MINIMAL}  reports:\n    host: 10.0.0.2\n  old:\n    host: 10.0.0.3\n`, '/srv');
  t.same(
    diffConfig(base, loadConfigText(`${MINIMAL}  reports:\n    host: 10.0.0.2\n  old:\n    host: 10.0.0.3\n`, '/srv')),
    { settings: [], databasesAdded: [], databasesRemoved: [], databasesChanged: [] },
    'equal snapshots: no change',
  );
  const next = loadConfigText(
    [
      'auth_type: trust',
      'listen_port: 7000',
      'query_wait_timeout: 5',
      'admin_users: [root]',
      'databases:',
      '  app: {host: 127.0.0.1}',
      '  reports: {host: 10.0.0.9}',
      '  fresh: {host: 10.0.0.4}',
    ].join('\n'),
    '/srv',
  );
  t.same(diffConfig(base, next), {
    settings: ['listen_port', 'admin_users', 'query_wait_timeout'],
    databasesAdded: ['fresh'],
    databasesRemoved: ['old'],
    databasesChanged: ['reports'],
  });
});

t.test('diffConfig sees changes hidden in non-enumerable secrets', async (t) => {
  const withPasswords = (dbPassword: string, userPassword: string) =>
    loadConfigText(
      ['auth_type: md5', `users: {alice: {password: ${userPassword}}}`, `databases: {app: {host: h, password: ${dbPassword}}}`].join('\n'),
      '/srv',
    );
  t.same(diffConfig(withPasswords('a', 'x'), withPasswords('b', 'x')), {
    settings: [],
    databasesAdded: [],
    databasesRemoved: [],
    databasesChanged: ['app'],
  });
  t.same(diffConfig(withPasswords('a', 'x'), withPasswords('a', 'y')).settings, ['secrets']);
  const scram = (key: number) =>
    `"SCRAM-SHA-256$4096:c2FsdA==$${Buffer.alloc(32, key).toString('base64')}:${Buffer.alloc(32).toString('base64')}"`;
  t.same(diffConfig(withPasswords('a', scram(1)), withPasswords('a', scram(2))).settings, ['secrets'], 'SCRAM keys are compared by bytes');
  t.same(diffConfig(withPasswords('a', scram(1)), withPasswords('a', scram(1))).settings, []);
});
