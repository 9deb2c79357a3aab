// Keeps lib/errors.ts and docs/errors.md in step: every code documented with its SQLSTATE and severity.
import t from 'tap';
import fs from 'node:fs';
import { ERRORS, poolerError, PoolerError, type ErrorCode } from '../../lib/errors.js';

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
  const w = poolerError('SLUICE_QUERY_WAIT_TIMEOUT', { tenant: 't', cls: 'default', waitedMs: 1234.4, pool: 'app/alice', reason: '' }, 'detail');
  t.equal(w.fatal, false);
  t.equal(w.detail, 'detail');
  t.match(w.message, /waited 1234 ms .* app\/alice/);
});
