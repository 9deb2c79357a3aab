// Keeps lib/errors.ts and docs/errors.md in step: every code documented with its SQLSTATE and severity.
import t from 'tap';
import fs from 'node:fs';
import { ERRORS, HTTP_ERRORS, httpError, HttpError, poolerError, PoolerError, type ErrorCode } from '../../lib/errors.js';

const doc = fs.readFileSync(new URL('../../docs/errors.md', import.meta.url), 'utf8');
const rows = new Map<string, { sqlstate: string; severity: string }>();
for (const m of doc.matchAll(/^\| `(SLUICE_[A-Z_]+)` \| ([0-9A-Z]{5}) \| (FATAL|ERROR) \|/gm)) {
  rows.set(m[1], { sqlstate: m[2], severity: m[3] });
}

t.test('every registered error is documented with the same SQLSTATE and severity', async (t) => {
  for (const [code, def] of Object.entries(ERRORS)) {
    const row = rows.get(code);
    t.ok(row, `${code} has a row in docs/errors.md`);
    t.equal(row?.sqlstate, def.sqlstate, `${code} SQLSTATE`);
    t.equal(row?.severity, def.severity, `${code} severity`);
  }
});

t.test('every documented error exists in the registry', async (t) => {
  t.ok(rows.size > 0, 'the docs table parses');
  for (const code of rows.keys()) t.ok(code in ERRORS, `${code} is in lib/errors.ts`);
});

t.test('SQLSTATEs are five characters of the standard alphabet', async (t) => {
  for (const [code, def] of Object.entries(ERRORS)) t.match(def.sqlstate, /^[0-9A-Z]{5}$/, code);
});

t.test('poolerError builds a typed error with the registered fields', async (t) => {
  const e = poolerError('SLUICE_UNKNOWN_DATABASE', { database: 'nope' });
  t.type(e, PoolerError);
  t.equal(e.code, 'SLUICE_UNKNOWN_DATABASE' satisfies ErrorCode);
  t.equal(e.sqlstate, '3D000');
  t.ok(e.fatal);
  t.match(e.message, /"nope"/);
  const w = poolerError(
    'SLUICE_QUERY_WAIT_TIMEOUT',
    { tenant: 't', cls: 'default', waitedMs: 1234.4, pool: 'app/alice', reason: '' },
    'detail',
  );
  t.equal(w.fatal, false);
  t.equal(w.detail, 'detail');
  t.match(w.message, /waited 1234 ms .* app\/alice/);
});

t.test('every HTTP admin API error is documented with its status, and every documented one exists', async (t) => {
  const http = new Map<string, number>();
  for (const m of doc.matchAll(/^\| `(SLUICE_HTTP_[A-Z_]+)` \| (\d{3}) \|/gm)) http.set(m[1]!, Number(m[2]));
  t.ok(http.size > 0, 'the HTTP table parses');
  for (const [code, def] of Object.entries(HTTP_ERRORS)) {
    t.equal(http.get(code), def.status, `${code}: HTTP ${def.status} in docs/errors.md`);
    t.ok(def.status >= 400 && def.status < 600, `${code}: an error status`);
  }
  for (const code of http.keys()) t.ok(code in HTTP_ERRORS, `${code} is in lib/errors.ts`);
});

t.test('httpError builds the registered status and message, with problems when given', async (t) => {
  const e = httpError('SLUICE_HTTP_INVALID_TENANT', { tenant: 'acme' }, ['weight: expected a weight > 0, got 0']);
  t.type(e, HttpError);
  t.equal(e.status, 422);
  t.match(e.message, /"acme"/);
  t.same(e.problems, ['weight: expected a weight > 0, got 0']);
  t.equal(httpError('SLUICE_HTTP_UNAUTHORIZED').problems, undefined);
});

t.test('a PoolerError carries no stack (it is a message for a client), and the stack limit is left as it was', async (t) => {
  const before = Error.stackTraceLimit;
  const e = poolerError('SLUICE_QUEUE_FULL', { tenant: 'a', cls: 'default', waitedMs: 0, pool: 'app/a' });
  t.type(e, PoolerError);
  t.notMatch(e.stack ?? '', /\n\s+at /, 'no stack frames captured');
  t.match(e.stack ?? '', /PoolerError: queue full|PoolerError: /, 'the stack line still names the error');
  t.equal(Error.stackTraceLimit, before);
  t.match(new Error('x').stack ?? '', /\n\s+at /, 'ordinary errors still capture frames');
});
