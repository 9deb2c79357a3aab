// Tests for reading pgbouncer.ini the way PgBouncer does: sections, comments, quoting, %include and connection strings.
import t from 'tap';
import {
  ConnStringError,
  parseConnString,
  parsePgBouncerIni,
  PgBouncerIniError,
  readPgBouncerIni,
} from '../../../lib/config/pgbouncer-ini.js';

function fromFiles(files: Record<string, string>) {
  return (path: string) => {
    if (path in files) return files[path]!;
    throw Object.assign(new Error('missing'), { code: 'ENOENT' });
  };
}

t.test('sections, keys, values and comments', async (t) => {
  const ini = parsePgBouncerIni(
    [
      ';; comment',
      '# another',
      '[databases]',
      'app = host=10.0.0.5 dbname=app',
      "  'my-db' = host=h",
      '"we""ird" = host=h',
      '* = host=fallback',
      '[users]',
      'alice = pool_mode=session',
      '[pgbouncer]   ; trailing comment',
      'listen_port=6433',
      'server_reset_query = DISCARD ALL   ',
      'admin_users = a, b # not a comment',
      'listen_port = 7000',
    ].join('\n'),
    '/etc/pgbouncer/pgbouncer.ini',
  );
  t.same([...ini.databases.keys()], ['app', 'my-db', 'we"ird', '*']);
  t.equal(ini.databases.get('app')?.value, 'host=10.0.0.5 dbname=app');
  t.equal(ini.databases.get('app')?.line, 4);
  t.equal(ini.users.get('alice')?.value, 'pool_mode=session');
  t.equal(ini.pgbouncer.get('server_reset_query')?.value, 'DISCARD ALL', 'trailing space trimmed');
  t.equal(ini.pgbouncer.get('admin_users')?.value, 'a, b # not a comment', 'comments only start a line');
  t.equal(ini.pgbouncer.get('listen_port')?.value, '7000', 'the last value wins');
  t.equal(ini.peers.size, 0);
});

t.test('problems stop the read with file:line', async (t) => {
  const fail = (text: string) => t.throws(() => parsePgBouncerIni(text, '/x.ini'), PgBouncerIniError);
  fail('listen_port = 1');
  t.throws(() => parsePgBouncerIni('[pgbouncer]\nlisten_port 1', '/x.ini'), {
    message: '/x.ini:2: syntax error: expected "=" after "listen_port"',
  });
  t.throws(() => parsePgBouncerIni('[nonsense]', '/x.ini'), { message: '/x.ini:1: invalid section "nonsense"' });
  fail('[databases');
  fail("[databases]\n'unterminated = host=x");
  fail('[databases]\n$db = host=x');
});

t.test('%include: relative to the working directory, nested, and bounded', async (t) => {
  const files = {
    '/etc/pgb/main.ini': '[pgbouncer]\nlisten_port = 1\n%include conf.d/dbs.ini\npool_mode = session\n',
    '/run/conf.d/dbs.ini': '[databases]\napp = host=a\n%include /etc/pgb/more.ini\n',
    '/etc/pgb/more.ini': 'reports = host=b\n',
  };
  const ini = readPgBouncerIni('/etc/pgb/main.ini', { readFile: fromFiles(files), cwd: '/run' });
  t.same([...ini.databases.keys()], ['app', 'reports', 'pool_mode']);
  t.equal(ini.databases.get('reports')?.file, '/etc/pgb/more.ini');
  t.equal(ini.databases.has('pool_mode'), true, 'the section an include switched to stays in force, as in PgBouncer');
  t.throws(() => readPgBouncerIni('/loop.ini', { readFile: fromFiles({ '/loop.ini': '%include /loop.ini' }) }), {
    message: /nested more than 10 deep/,
  });
  t.throws(() => readPgBouncerIni('/a.ini', { readFile: fromFiles({ '/a.ini': '%include missing.ini' }), cwd: '/w' }), {
    message: '/w/missing.ini: cannot read (ENOENT)',
  });
});

t.test('connection strings', async (t) => {
  t.same(
    [...parseConnString("host=h port=5433  dbname='my db' password='it''s'")],
    [
      ['host', 'h'],
      ['port', '5433'],
      ['dbname', 'my db'],
      ['password', "it's"],
    ],
  );
  t.same([...parseConnString('host = h')], [['host', 'h']], 'spaces around "=" are allowed');
  t.same([...parseConnString('')], []);
  t.throws(() => parseConnString('host'), ConnStringError);
  t.throws(() => parseConnString("host='x"), ConnStringError);
  t.throws(() => parseConnString("host=''"), ConnStringError, 'empty values are refused');
  t.throws(() => parseConnString('=x'), ConnStringError);
});
