// Tests for the result-shape fingerprint of a RowDescription: what counts (columns, names, types) and what does not (table, column number, format).
import t from 'tap';
import { rowShape, sameShape, NO_ROWS } from '../../../lib/protocol/row-shape.js';
import * as encode from '../../../lib/protocol/encode.js';

/** A RowDescription whose table oid, column numbers and format codes are set to `noise`. */
function described(cols: { name: string; typeOid: number }[], noise = 0): Buffer {
  const frame = encode.rowDescription(cols);
  let at = 7;
  for (let i = 0; i < cols.length; i++) {
    at = frame.indexOf(0, at) + 1;
    frame.writeInt32BE(noise, at);
    frame.writeInt16BE(noise, at + 4);
    frame.writeInt16BE(noise & 1, at + 16);
    at += 18;
  }
  return frame;
}

const shapeOf = (f: Buffer): Buffer => rowShape(f, 0, f.length);
const idA = [
  { name: 'id', typeOid: 23 },
  { name: 'a', typeOid: 20 },
];

t.test('the source table, column numbers and formats do not change the shape', async (t) => {
  t.ok(sameShape(shapeOf(described(idA, 0)), shapeOf(described(idA, 7))));
});

t.test('a column more or less, another type or another name does', async (t) => {
  const base = shapeOf(described(idA));
  t.notOk(sameShape(base, shapeOf(described([...idA, { name: 'extra', typeOid: 25 }]))), 'ADD COLUMN');
  t.notOk(sameShape(base, shapeOf(described([idA[0]]))), 'DROP COLUMN');
  t.notOk(sameShape(base, shapeOf(described([idA[0], { name: 'a', typeOid: 701 }]))), 'ALTER COLUMN TYPE');
  t.notOk(sameShape(base, shapeOf(described([idA[0], { name: 'b', typeOid: 20 }]))), 'RENAME COLUMN');
});

t.test('NoData is the shape of no rows; it differs from a row of no columns', async (t) => {
  const noData = Buffer.from([0x6e, 0, 0, 0, 4]);
  t.equal(shapeOf(noData), NO_ROWS);
  t.notOk(sameShape(NO_ROWS, shapeOf(described([]))));
});

t.test('the shape is found within a larger buffer', async (t) => {
  const f = described(idA);
  const padded = Buffer.concat([Buffer.from('xyz'), f, Buffer.from('tail')]);
  t.ok(sameShape(rowShape(padded, 3, 3 + f.length), shapeOf(f)));
});
