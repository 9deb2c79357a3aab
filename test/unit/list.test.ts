// Tests for the intrusive List and move(): order, membership, and safe removal while iterating.
import t from 'tap';
import fc from 'fast-check';
import { List, move, type Listed } from '../../lib/list.js';

class Item implements Listed<Item> {
  prev: Item | null = null;
  next: Item | null = null;
  list: List<Item> | null = null;
  constructor(readonly id: number) {}
}

const ids = (l: List<Item>): number[] => [...l].map((x) => x.id);

t.test('push, first, last, size and iteration order', async (t) => {
  const l = new List<Item>('idle');
  t.equal(l.name, 'idle');
  t.same([l.first(), l.last(), l.size, ids(l)], [null, null, 0, []], 'empty');
  const [a, b, c] = [new Item(1), new Item(2), new Item(3)];
  l.push(a);
  t.same([l.first(), l.last(), l.size], [a, a, 1], 'one item is both ends');
  l.push(b);
  l.push(c);
  t.same(ids(l), [1, 2, 3], 'iterates from the least recently pushed');
  t.equal(l.first(), a);
  t.equal(l.last(), c, 'last() is the most recently pushed');
  t.equal(l.size, 3);
  t.ok(a.list === l && b.list === l && c.list === l, 'items know their list');
});

t.test('remove from the head, middle and tail', async (t) => {
  const l = new List<Item>('l');
  const items = [1, 2, 3, 4].map((i) => new Item(i));
  for (const x of items) l.push(x);
  l.remove(items[1]);
  t.same(ids(l), [1, 3, 4], 'middle');
  l.remove(items[0]);
  t.same([ids(l), l.first()?.id], [[3, 4], 3], 'head');
  l.remove(items[3]);
  t.same([ids(l), l.last()?.id], [[3], 3], 'tail');
  l.remove(items[2]);
  t.same([ids(l), l.first(), l.last(), l.size], [[], null, null, 0], 'last one');
  t.same([items[1].prev, items[1].next, items[1].list], [null, null, null], 'a removed item is unlinked');
});

t.test('remove ignores items that are not in this list', async (t) => {
  const [l, other] = [new List<Item>('l'), new List<Item>('other')];
  const [a, b] = [new Item(1), new Item(2)];
  l.push(a);
  other.push(b);
  l.remove(b);
  l.remove(new Item(3));
  t.same([ids(l), ids(other), l.size, other.size], [[1], [2], 1, 1]);
  l.remove(a);
  l.remove(a);
  t.equal(l.size, 0, 'removing twice counts once');
});

t.test('move between lists, to null, and within a list', async (t) => {
  const [idle, active] = [new List<Item>('idle'), new List<Item>('active')];
  const [a, b, c] = [new Item(1), new Item(2), new Item(3)];
  move(a, idle);
  move(b, idle);
  move(c, idle);
  move(b, active);
  t.same([ids(idle), ids(active), b.list], [[1, 3], [2], active], 'moved across');
  move(a, idle);
  t.same(ids(idle), [3, 1], 'moving within a list sends the item to the tail');
  move(c, null);
  t.same([ids(idle), c.list, idle.size], [[1], null, 1], 'moving to null takes it out of every list');
  move(c, null);
  t.equal(c.list, null, 'moving an unlisted item to null is harmless');
});

t.test('removing items while iterating', async (t) => {
  const l = new List<Item>('l');
  const other = new List<Item>('other');
  for (let i = 1; i <= 6; i++) l.push(new Item(i));
  const visited: number[] = [];
  for (const x of l) {
    visited.push(x.id);
    if (x.id % 2 === 0) move(x, other);
  }
  t.same(visited, [1, 2, 3, 4, 5, 6], 'every item is visited once even as the current one moves');
  t.same(
    [ids(l), ids(other)],
    [
      [1, 3, 5],
      [2, 4, 6],
    ],
  );
  for (const x of l) l.remove(x);
  t.same([ids(l), l.size], [[], 0], 'removing each current item empties the list');
});

t.test('matches an array model under random operations', async (t) => {
  const op = fc.tuple(fc.constantFrom('push', 'remove', 'moveOther'), fc.nat(9));
  fc.assert(
    fc.property(fc.array(op, { maxLength: 60 }), (ops) => {
      const items = Array.from({ length: 10 }, (_, i) => new Item(i));
      const [l, other] = [new List<Item>('l'), new List<Item>('other')];
      let model: number[] = [];
      let otherModel: number[] = [];
      for (const [kind, i] of ops) {
        const x = items[i];
        model = model.filter((id) => id !== i);
        otherModel = otherModel.filter((id) => id !== i);
        const to = kind === 'push' ? l : kind === 'moveOther' ? other : null;
        if (to === l) model.push(i);
        if (to === other) otherModel.push(i);
        move(x, to);
      }
      const back = (list: List<Item>): number[] => {
        const out: number[] = [];
        for (let x = list.last(); x; x = x.prev) out.unshift(x.id);
        return out;
      };
      return (
        JSON.stringify([ids(l), ids(other), back(l), back(other), l.size, other.size]) ===
        JSON.stringify([model, otherModel, model, otherModel, model.length, otherModel.length])
      );
    }),
  );
  t.pass('forward and backward links, sizes and membership agree with the model');
});
