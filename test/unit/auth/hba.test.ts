// Tests for auth_hba_file parsing and first-match decisions, against PgBouncer's behaviour.
import t from 'tap';
import { type HbaLogin, matchHba } from '../../../lib/auth/hba.js';
import { HbaFileError, loadHbaFile, parseHba } from '../../../lib/config/hba-file.js';

const FILE = '/etc/sluice/hba.conf';

function rulesOf(text: string, files: Record<string, string> = {}) {
  const readFile = (path: string) => {
    if (path in files) return files[path]!;
    throw Object.assign(new Error('no such file'), { code: 'ENOENT' });
  };
  return parseHba(text, { file: FILE, readFile });
}

function methodFor(text: string, login: Partial<HbaLogin>, files: Record<string, string> = {}): string {
  const { rules } = rulesOf(text, files);
  return matchHba(rules, { connType: 'host', ssl: false, database: 'app', user: 'alice', address: '10.0.0.7', ...login }).method;
}

t.test('allows and denies by user', async (t) => {
  const hba = 'host all alice 0.0.0.0/0 scram-sha-256\nhost all bob 0.0.0.0/0 reject\n';
  t.equal(methodFor(hba, { user: 'alice' }), 'scram-sha-256');
  t.equal(methodFor(hba, { user: 'bob' }), 'reject');
  t.equal(methodFor(hba, { user: 'carol' }), 'reject', 'no matching rule rejects');
  t.equal(matchHba(rulesOf(hba).rules, { connType: 'host', ssl: false, database: 'app', user: 'carol', address: '1.2.3.4' }).rule, null);
});

t.test('allows and denies by database, with comma lists, quoted names and sameuser', async (t) => {
  const hba = ['host app,reports all all md5', 'host "My DB","all" all all trust', 'host sameuser all all password'].join('\n');
  t.equal(methodFor(hba, { database: 'reports' }), 'md5');
  t.equal(methodFor(hba, { database: 'My DB' }), 'trust', 'quoted names keep spaces and case');
  t.equal(methodFor(hba, { database: 'all' }), 'trust', 'a quoted "all" is a database name, not the keyword');
  t.equal(methodFor(hba, { database: 'my db' }), 'reject', 'names compare exactly');
  t.equal(methodFor(hba, { database: 'alice', user: 'alice' }), 'plain', 'sameuser; password means cleartext');
  t.equal(methodFor(hba, { database: 'other', user: 'alice' }), 'reject');
  t.equal(methodFor('host "a""b" all all trust', { database: 'a"b' }), 'trust', 'doubled quotes inside a quoted name');
});

t.test('allows and denies by address, in CIDR and address-mask form', async (t) => {
  const hba = [
    'host all all 10.1.0.0/16 trust',
    'host all all 192.168.1.0 255.255.255.0 md5',
    'host all all 2001:db8::/32 scram-sha-256',
    'host all all 0.0.0.0/0 reject',
  ].join('\n');
  t.equal(methodFor(hba, { address: '10.1.200.3' }), 'trust');
  t.equal(methodFor(hba, { address: '10.2.0.1' }), 'reject');
  t.equal(methodFor(hba, { address: '192.168.1.77' }), 'md5');
  t.equal(methodFor(hba, { address: '2001:db8:1::5' }), 'scram-sha-256');
  t.equal(methodFor(hba, { address: '2001:db9::5' }), 'reject', 'an IPv6 client matches no IPv4 rule, 0.0.0.0/0 included');
});

t.test('IPv4 and IPv6 loopback are different addresses', async (t) => {
  const v6only = 'host all all ::1/128 trust\n';
  const v4only = 'host all all 127.0.0.1/32 trust\n';
  t.equal(methodFor(v6only, { address: '127.0.0.1' }), 'reject', '127.0.0.1 does not match a ::1 rule');
  t.equal(methodFor(v6only, { address: '::1' }), 'trust');
  t.equal(methodFor(v4only, { address: '::1' }), 'reject', '::1 does not match a 127.0.0.1 rule');
  t.equal(methodFor(v4only, { address: '127.0.0.1' }), 'trust');
  t.equal(methodFor(v4only, { address: '::ffff:127.0.0.1' }), 'trust', 'an IPv4 client of a dual-stack listener is IPv4');
  t.equal(methodFor(v6only, { address: '::ffff:127.0.0.1' }), 'reject');
  t.equal(
    methodFor('host all all ::ffff:127.0.0.1/128 trust', { address: '::ffff:127.0.0.1' }),
    'reject',
    'as with PgBouncer, whose IPv6 sockets never see IPv4 clients',
  );
});

t.test('the first matching rule wins', async (t) => {
  t.equal(methodFor('host all alice all reject\nhost all all all trust\n', {}), 'reject');
  t.equal(methodFor('host all all all trust\nhost all alice all reject\n', {}), 'trust');
  const { rules } = rulesOf('# header\n\nhost all bob all md5\nhost all all all trust\n');
  const decision = matchHba(rules, { connType: 'host', ssl: false, database: 'x', user: 'alice', address: '1.1.1.1' });
  t.equal(decision.rule?.line, 4, 'line numbers count comments and blank lines');
});

t.test('connection types: local, host, hostssl, hostnossl', async (t) => {
  const hba = 'local all all peer\nhostssl all all all scram-sha-256\nhostnossl all all all md5\n';
  t.equal(methodFor(hba, { connType: 'local' }), 'peer');
  t.equal(methodFor(hba, { ssl: true }), 'scram-sha-256');
  t.equal(methodFor(hba, { ssl: false }), 'md5');
  t.equal(methodFor('host all all all trust', { connType: 'local' }), 'reject', 'host rules never match Unix-socket clients');
  t.equal(methodFor('local all all trust', {}), 'reject', 'local rules never match TCP clients');
  t.equal(methodFor('host all all all cert', { ssl: true }), 'cert', 'host matches with and without TLS');
});

t.test('comments, whitespace and no line continuation', async (t) => {
  const { rules, warnings } = rulesOf('  host\tall all 1.2.3.4/32   trust   # trailing comment\n#host all all all reject\n');
  t.equal(rules.length, 1);
  t.same(warnings, []);
  const cont = rulesOf('host all all \\\n  all trust\n');
  t.equal(cont.rules.length, 0, 'a backslash does not join lines, as PgBouncer reads a line at a time');
  t.equal(cont.warnings.length, 2);
});

t.test('replication', async (t) => {
  const hba = 'host replication all all trust\nhost all all all md5\n';
  t.equal(methodFor(hba, { replication: true, database: 'app' }), 'trust', 'physical replication matches only replication rules');
  t.equal(methodFor('host all all all md5', { replication: true }), 'reject', '"all" does not cover physical replication');
  t.equal(methodFor(hba, { database: 'replication' }), 'md5', 'the keyword is not a database name');
});

t.test('bad lines are skipped with file:line, the rest still load', async (t) => {
  const text = [
    'host all all all trust',
    'hostgssenc all all all trust',
    'host all all samehost trust',
    'host all all db.example.com trust',
    'host all all 10.0.0.0/33 trust',
    'host all all 10.0.0.0 trust',
    'host all all all gss',
    'host all +admins all trust',
    'host samerole all all trust',
    'host all all all trust extra',
    'host all all all',
    'host "unterminated all all trust',
    'cert all all all trust',
    'host all all all cert map=office',
    'host all all 10.0.0.1/8 md5',
  ].join('\n');
  const { rules, warnings } = rulesOf(text);
  t.same(
    rules.map((r) => r.line),
    [1, 15],
    'the one good line and the one with host bits (kept, with a warning)',
  );
  t.equal(warnings.length, 14);
  for (const w of warnings) t.match(w, /^\/etc\/sluice\/hba\.conf:\d+: /);
  t.match(warnings[0], /:2: unknown connection type "hostgssenc"; line ignored/);
  t.match(warnings[1], /:3: cannot parse address "samehost"/);
  t.match(warnings[5], /:7: unsupported authentication method "gss"/);
  t.match(warnings[6], /:8: group membership \(\+admins\) is not supported/);
  t.match(warnings[12], /:14: ident map "office" is not defined/);
  t.match(warnings[13], /:15: .*never matches/);
  t.equal(
    methodFor('host all all 10.0.0.1/8 md5', { address: '10.0.0.1' }),
    'reject',
    'host bits outside the mask never match, as in PgBouncer',
  );
});

t.test('map= is accepted when the ident map exists; ldap keeps its options', async (t) => {
  const { rules } = parseHba('hostssl all all all cert map=office\nhost all all all ldap ldapserver=ldap.example.com ldapprefix="cn="\n', {
    file: FILE,
    identMaps: new Set(['office']),
  });
  t.equal(rules[0]?.map, 'office');
  t.equal(rules[1]?.method, 'ldap');
  t.equal(rules[1]?.ldapOptions, 'ldapserver=ldap.example.com ldapprefix= cn=');
});

t.test('@file includes, relative to the hba file', async (t) => {
  const files = {
    '/etc/sluice/admins.txt': '# admins\nalice, bob\n"Carol Q"\n@more.txt\n',
    '/etc/sluice/more.txt': 'dave',
    '/srv/dbs.txt': 'app reports',
  };
  const hba = 'host @/srv/dbs.txt @admins.txt all trust\n';
  t.equal(methodFor(hba, { user: 'bob', database: 'reports' }, files), 'trust');
  t.equal(methodFor(hba, { user: 'Carol Q' }, files), 'trust');
  t.equal(methodFor(hba, { user: 'dave' }, files), 'trust', 'nested include, relative to the including file');
  t.equal(methodFor(hba, { user: 'erin' }, files), 'reject');
  const missing = rulesOf('host all @nope.txt all trust\n', files);
  t.equal(missing.rules.length, 0);
  t.match(missing.warnings[0], /cannot read \/etc\/sluice\/nope\.txt \(ENOENT\); line ignored/);
  const loop = rulesOf('host all @/etc/sluice/self.txt all trust\n', { '/etc/sluice/self.txt': '@self.txt' });
  t.match(loop.warnings[0], /nested more than 10 deep/);
  t.equal(methodFor('host all "@admins.txt" all trust', { user: '@admins.txt' }, files), 'trust', 'a quoted @ is a name');
});

t.test('loadHbaFile refuses an unreadable file', async (t) => {
  t.throws(
    () =>
      loadHbaFile('/nowhere/hba.conf', {
        readFile: () => {
          throw Object.assign(new Error('x'), { code: 'EACCES' });
        },
      }),
    new HbaFileError('/nowhere/hba.conf: cannot read hba file (EACCES)'),
  );
  const loaded = loadHbaFile('/x/hba.conf', { readFile: () => 'local all all trust\r\n' });
  t.equal(loaded.rules[0]?.file, '/x/hba.conf');
  t.equal(loaded.rules.length, 1, 'CRLF line ends are fine');
});

t.test('a host login without an address matches only "all" rules', async (t) => {
  const { rules } = rulesOf('host all all 0.0.0.0/0 md5\nhost all all all trust\n');
  t.equal(matchHba(rules, { connType: 'host', ssl: false, database: 'a', user: 'b' }).method, 'trust');
  t.equal(matchHba(rules, { connType: 'host', ssl: false, database: 'a', user: 'b', address: 'garbage' }).method, 'trust');
});
