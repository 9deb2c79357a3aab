// Tests for when a named statement's copy must be checked before it runs: the columns the client was shown against the copy's.
import t from 'tap';
import { ShapeGate } from '../../../../lib/session/prepared/shape-gate.js';
import { ServerStatements } from '../../../../lib/pool/server-statements.js';
import type { Binding } from '../../../../lib/session/prepared/client-names.js';
import type { SharedStatement } from '../../../../lib/session/prepared/statement-registry.js';
import { NO_ROWS } from '../../../../lib/protocol/row-shape.js';
import * as encode from '../../../../lib/protocol/encode.js';
import { bind, describePortal, describeStatement, execute } from '../../../helpers/wire.js';

const stmt = { name: 'sluice_x' } as SharedStatement;
const binding = (shape: Buffer | null): Binding => ({ name: 's', stmt, shape });
const two = encode.rowDescription([
  { name: 'id', typeOid: 23 },
  { name: 'a', typeOid: 20 },
]);
const one = encode.rowDescription([{ name: 'id', typeOid: 23 }]);

/** The gate's verdict for a Bind followed by `next` in the same buffer. */
function check(gate: ShapeGate, b: Binding, copyShape: Buffer | null, next: Buffer = execute()): boolean {
  const b1 = bind([], { statement: 's' });
  const buf = Buffer.concat([b1, next]);
  return gate.mustCheck(b, copyShape, true, buf, 0, b1.length);
}

t.test('a statement the client was never shown columns for is never checked', async (t) => {
  const gate = new ShapeGate();
  t.notOk(check(gate, binding(null), null));
  t.equal(gate.takePortal(), null);
});

t.test('shown columns: checked unless the copy is known to return the same', async (t) => {
  const gate = new ShapeGate();
  const lru = new ServerStatements();
  const b = binding(null);
  lru.add(stmt.name);
  gate.described(b, lru, two, 0, two.length);
  t.ok(b.shape);
  t.notOk(check(gate, b, lru.touch(stmt.name)), 'the copy it was described on');
  t.ok(check(gate, b, null), 'a copy of unknown columns');
  t.notOk(gate.verified(b, lru, one, 0, one.length), 'a fresh copy with a column less does not match');
  t.ok(check(gate, b, lru.touch(stmt.name)), 'nor does the copy now');
  t.ok(gate.verified(b, lru, two, 0, two.length), 'a fresh copy with the same columns matches');
  t.equal(lru.touch(stmt.name), b.shape, 'and is remembered as the same buffer');
});

t.test('a Bind followed by a Describe of its portal is not checked: what the Describe shows is recorded', async (t) => {
  const gate = new ShapeGate();
  const b = binding(Buffer.from('old'));
  t.notOk(check(gate, b, null, describePortal()));
  t.equal(gate.takePortal(), b);
  t.equal(gate.takePortal(), null, 'once');
  t.ok(check(gate, b, null, describePortal('other')), 'a Describe of another portal does not count');
  t.ok(check(gate, b, null, describeStatement('s')), 'nor does a Describe of the statement after the Bind');
});

t.test('a statement that returns no rows is not checked', async (t) => {
  t.notOk(check(new ShapeGate(), binding(NO_ROWS), null));
});
