// Tests for the replacement messages that make the server fail a rejected statement in stream order.
import t from 'tap';
import { loadModule, parseSync } from 'libpg-query';
import { rejectionParse, rejectionQuery } from '../../../../lib/session/state/state-rejection.js';
import { poolerError } from '../../../../lib/errors.js';

await loadModule();
const err = poolerError('SLUICE_SESSION_STATE_REJECTED', { statement: "SET x $sluice$ 'y'" });

t.test('the Query raises the rejection with its SQLSTATE and message, whatever the statement text holds', async (t) => {
  const q = rejectionQuery(err);
  t.equal(q[0], 0x51);
  const sql = q.toString('utf8', 5, q.length - 1);
  const [{ stmt }] = parseSync(sql).stmts as Array<{ stmt: Record<string, any> }>;
  t.ok(stmt.DoStmt, 'a DO block');
  t.match(sql, /ERRCODE = '0A000'/);
  t.match(sql, /SET x sluice ''y''/, 'dollar signs cannot end the body early; quotes are doubled');
});

t.test('the Parse keeps the statement name and fails while parsing', async (t) => {
  const p = rejectionParse('s7', err);
  t.equal(p[0], 0x50);
  t.equal(p.toString('utf8', 5, 7), 's7');
  const text = p.toString('utf8', 8, p.indexOf(0, 8));
  t.match(text, /^SELECT E'Sluice: SET x \$sluice\$ ''y'' is not allowed here.*'::pg_catalog\.int4$/);
  t.equal(parseSync(text).stmts?.length, 1);
});
