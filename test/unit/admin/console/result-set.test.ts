// Encoding console results: column type OIDs, NULL cells, CommandComplete, and the helpers' formats.
import t from 'tap';
import { columns, encodeResult, round, timestamp } from '../../../../lib/admin/console/result-set.js';

/** The cells of a DataRow message, null for SQL NULL. */
function cells(row: Buffer): (string | null)[] {
  const out: (string | null)[] = [];
  let p = 7;
  for (let i = 0; i < row.readInt16BE(5); i++) {
    const len = row.readInt32BE(p);
    p += 4;
    out.push(len < 0 ? null : row.toString('utf8', p, p + len));
    if (len > 0) p += len;
  }
  return out;
}

t.test('RowDescription carries each column type; DataRows show NULL for null and unlimited numbers', async (t) => {
  const rs = {
    columns: columns({ name: 'text', n: 'int4', total: 'numeric', share: 'float8', big: 'int8' }),
    rows: [
      ['a', 1, 2, 0.5, Infinity],
      [null, 0, 0, null, 3],
    ],
  };
  const [desc, row1, row2, done] = encodeResult(rs, 'SHOW');
  t.equal(String.fromCharCode(desc![0]!), 'T');
  t.equal(desc!.readInt16BE(5), 5, 'five columns');
  const oids: number[] = [];
  let p = 7;
  for (let i = 0; i < 5; i++) {
    p = desc!.indexOf(0, p) + 1;
    oids.push(desc!.readInt32BE(p + 6));
    p += 18;
  }
  t.same(oids, [25, 23, 1700, 701, 20]);
  t.equal(String.fromCharCode(row1![0]!), 'D');
  t.same(cells(row1!), ['a', '1', '2', '0.5', null], 'Infinity is NULL');
  t.same(cells(row2!), [null, '0', '0', null, '3'], 'null is NULL');
  t.equal(done!.toString('utf8', 5, done!.length - 1), 'SHOW');
});

t.test('a row with the wrong number of cells is a bug, not output', async (t) => {
  t.throws(() => encodeResult({ columns: columns({ a: 'text' }), rows: [['x', 'y']] }, 'SHOW'), /2 cells for 1 columns/);
});

t.test('timestamps as PgBouncer prints them, and rounding', async (t) => {
  t.equal(timestamp(Date.UTC(2024, 4, 1, 12, 3, 4, 567)), '2024-05-01 12:03:04 UTC');
  t.equal(round(0.123456), 0.123);
  t.equal(round(null), null);
  t.equal(round(Infinity), null);
});
