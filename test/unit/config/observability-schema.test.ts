// Tests the metrics and admin_http sections: defaults, the token from a file or a variable, and their problems.
import t from 'tap';
import { inspect } from 'node:util';
import { ConfigError, parseConfig, type ParseOptions } from '../../../lib/config/schema.js';

const BASE = { auth_type: 'trust', databases: { app: { host: '127.0.0.1' } } };

function parse(extra: Record<string, unknown>, opts: Partial<ParseOptions> = {}) {
  return parseConfig({ ...BASE, ...extra }, { baseDir: '/etc/sluice', readFile: () => '', ...opts });
}

function problems(extra: Record<string, unknown>, opts: Partial<ParseOptions> = {}): string[] {
  try {
    parse(extra, opts);
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  throw new Error('expected a ConfigError');
}

t.test('defaults: metrics.max_tenants 100, no admin HTTP port', async (t) => {
  const c = parse({});
  t.same(c.metrics, { max_tenants: 100 });
  t.equal(c.admin_http, undefined);
  t.same(parse({ admin_http: {} }).admin_http, { listen_addr: '127.0.0.1', port: 9930 }, 'an empty section turns it on with defaults');
});

t.test('the token comes from a file (relative to the config) or a variable, trimmed, and never shows', async (t) => {
  let read = '';
  const c = parse({ admin_http: { port: 0, token_file: 'admin-token' } }, { readFile: (p) => ((read = p), 's3cret-token\n') });
  t.equal(read, '/etc/sluice/admin-token');
  t.equal(c.admin_http?.token, 's3cret-token');
  t.notMatch(JSON.stringify(c.admin_http), 's3cret', 'not in JSON');
  t.notMatch(inspect(c, { depth: 5 }), 's3cret', 'not in inspect');
  const e = parse({ admin_http: { token_env: 'SLUICE_ADMIN_TOKEN' } }, { env: { SLUICE_ADMIN_TOKEN: ' from-env ' } });
  t.equal(e.admin_http?.token, 'from-env');
});

t.test('token problems are named, never with the token', async (t) => {
  t.same(problems({ admin_http: { token_file: 'a', token_env: 'B' } }), ['admin_http: set token_file or token_env, not both']);
  t.same(problems({ admin_http: { token_file: 't' } }, { readFile: () => '  \n' }), ['admin_http.token_file: /etc/sluice/t is empty']);
  t.same(
    problems(
      { admin_http: { token_file: 't' } },
      {
        readFile: () => {
          throw Object.assign(new Error('nope'), { code: 'ENOENT' });
        },
      },
    ),
    ['admin_http.token_file: cannot read /etc/sluice/t (ENOENT)'],
  );
  t.same(problems({ admin_http: { token_env: 'NOPE' } }, { env: {} }), [
    'admin_http.token_env: environment variable NOPE is not set or empty',
  ]);
  t.same(problems({ admin_http: { port: 70000, token: 'inline' }, metrics: { max_tenants: 0 } }).sort(), [
    'admin_http.port: expected integer 0-65535, got 70000',
    'admin_http.token: unknown setting',
    'metrics.max_tenants: expected integer >= 1, got 0',
  ]);
});
