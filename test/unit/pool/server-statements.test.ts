// Tests for the per-server-connection LRU of prepared statement names: order, the bound, the current transaction, doubt.
import t from 'tap';
import { ServerStatements } from '../../../lib/pool/server-statements.js';

t.test('least recently used first; touch and add move a name to the end', async (t) => {
  const s = new ServerStatements();
  s.beginTransaction();
  for (const n of ['a', 'b', 'c']) s.add(n);
  s.touch('a');
  t.same(s.names(), ['b', 'c', 'a']);
  t.ok(s.has('b'));
  s.remove('b');
  t.notOk(s.has('b'));
  t.equal(s.size, 2);
});

t.test(
  'the newest name touched again keeps the order and is still marked used; removing or doubting it forgets that it was newest',
  async (t) => {
    const s = new ServerStatements();
    s.beginTransaction();
    for (const n of ['a', 'b', 'c']) s.add(n);
    s.beginTransaction();
    s.touch('c');
    s.touch('c');
    t.same(s.names(), ['a', 'b', 'c'], 'the order stands');
    t.equal(s.victim(3), 'a', 'the oldest goes, not the newest this transaction used');
    s.touch('a');
    t.same(s.names(), ['b', 'c', 'a']);
    s.remove('a');
    s.touch('b');
    t.same(s.names(), ['c', 'b'], 'after the newest was removed, a touch still moves a name to the end');
    s.doubt('b');
    s.touch('c');
    s.add('d');
    s.touch('c');
    t.same(s.names(), ['d', 'c'], 'and after it was doubted');
    s.doubtAll();
    s.add('x');
    s.add('y');
    s.touch('x');
    t.same(s.names(), ['y', 'x'], 'and after all were doubted');
  },
);

t.test('victim: the oldest, only when full, never one the current transaction used', async (t) => {
  const s = new ServerStatements();
  s.beginTransaction();
  s.add('a');
  s.add('b');
  t.equal(s.victim(3), null, 'room left');
  t.equal(s.victim(2), null, 'full, but both were used by this transaction: it may hold portals on them');
  s.beginTransaction();
  t.equal(s.victim(2), 'a', 'in the next transaction the oldest goes');
  s.touch('a');
  t.equal(s.victim(2), 'b');
  s.remove('b');
  t.equal(s.victim(2), null);
});

t.test('doubt: forgotten, remembered as maybe still on the server, until settled or prepared again', async (t) => {
  const s = new ServerStatements();
  s.add('a');
  s.add('b');
  s.doubt('a');
  t.notOk(s.has('a'));
  t.ok(s.isDoubtful('a'));
  s.settle('a');
  t.notOk(s.isDoubtful('a'));
  s.doubtAll();
  t.equal(s.size, 0);
  t.ok(s.isDoubtful('b'));
  s.add('b');
  t.notOk(s.isDoubtful('b'), 'preparing it again settles the doubt');
  t.ok(s.has('b'));
});

t.test("a copy's shape: unknown when added, kept by touch, gone with the copy", async (t) => {
  const s = new ServerStatements();
  s.add('a');
  t.equal(s.touch('a'), null);
  const shape = Buffer.from('cols');
  s.setShape('a', shape);
  t.equal(s.touch('a'), shape);
  s.doubt('a');
  s.setShape('a', shape);
  t.notOk(s.has('a'), 'setting the shape of a copy not held does nothing');
  s.add('a');
  t.equal(s.touch('a'), null, 'prepared again: unknown again');
});
