// Tests for the indexed binary min-heap against a sorted-array model.
import t from 'tap';
import fc from 'fast-check';
import { arraySlot, IndexedHeap } from '../../../../lib/scheduler/queue/heap.js';

interface Node {
  id: number;
  key: number;
  pos: number[];
}

const less = (a: Node, b: Node): boolean => a.key < b.key || (a.key === b.key && a.id < b.id);
const sorted = (nodes: Iterable<Node>): number[] => [...nodes].sort((a, b) => (less(a, b) ? -1 : 1)).map((n) => n.id);

t.test('pops in key order', async (t) => {
  const heap = new IndexedHeap<Node>(less, arraySlot<Node>(0));
  const keys = [5, 3, 9, 1, 3, 7];
  for (const [id, key] of keys.entries()) heap.push({ id, key, pos: [-1] });
  const out: number[] = [];
  for (let n = heap.pop(); n; n = heap.pop()) out.push(n.key);
  t.same(out, [1, 3, 3, 5, 7, 9]);
  t.equal(heap.size, 0);
  t.equal(heap.pop(), undefined);
});

t.test('update, remove and has keep positions right; a node can sit in two heaps', async (t) => {
  const a = new IndexedHeap<Node>(less, arraySlot<Node>(0));
  const b = new IndexedHeap<Node>((x, y) => x.id > y.id, arraySlot<Node>(1));
  const nodes = [0, 1, 2, 3].map((id) => ({ id, key: 10 - id, pos: [-1, -1] }));
  for (const n of nodes) {
    a.push(n);
    b.push(n);
  }
  t.equal(a.peek()?.id, 3);
  t.equal(b.peek()?.id, 3);
  nodes[0]!.key = 0;
  a.update(nodes[0]!);
  t.equal(a.peek()?.id, 0);
  t.ok(a.remove(nodes[0]!));
  t.notOk(a.remove(nodes[0]!), 'second remove is refused');
  t.notOk(a.has(nodes[0]!));
  t.ok(b.has(nodes[0]!), 'other heap unaffected');
  a.push(nodes[1]!);
  t.equal(a.size, 3, 'pushing a present node does not duplicate it');
  a.clear();
  t.equal(a.size, 0);
  t.notOk(a.has(nodes[1]!), 'cleared nodes are not members');
  t.ok(b.has(nodes[1]!), 'clearing one heap leaves the other');
});

t.test('random operations match a sorted-array model', async (t) => {
  const op = fc.oneof(
    fc.record({ kind: fc.constant('push' as const), key: fc.integer({ min: 0, max: 50 }) }),
    fc.record({ kind: fc.constant('pop' as const) }),
    fc.record({ kind: fc.constant('remove' as const), pick: fc.nat() }),
    fc.record({ kind: fc.constant('update' as const), pick: fc.nat(), key: fc.integer({ min: 0, max: 50 }) }),
  );
  fc.assert(
    fc.property(fc.array(op, { maxLength: 200 }), (ops) => {
      const heap = new IndexedHeap<Node>(less, arraySlot<Node>(0));
      const model = new Set<Node>();
      let id = 0;
      for (const o of ops) {
        const members = [...model];
        if (o.kind === 'push') {
          const n = { id: id++, key: o.key, pos: [-1] };
          heap.push(n);
          model.add(n);
        } else if (o.kind === 'pop') {
          const expect = sorted(model)[0];
          const got = heap.pop();
          if (got?.id !== expect) return false;
          if (got) model.delete(got);
        } else if (members.length > 0) {
          const n = members[o.pick % members.length]!;
          if (o.kind === 'remove') {
            heap.remove(n);
            model.delete(n);
          } else {
            n.key = o.key;
            heap.update(n);
          }
        }
        if (heap.size !== model.size || heap.peek()?.id !== sorted(model)[0]) return false;
      }
      return true;
    }),
    { numRuns: 300 },
  );
  t.pass('model agreed on every run');
});
