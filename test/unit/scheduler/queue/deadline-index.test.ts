// Tests for the deadline index: the ticket it names as due first is always the earliest queued one, whatever the order of arrivals.
import t from 'tap';
import fc from 'fast-check';
import { DeadlineIndex } from '../../../../lib/scheduler/queue/deadline-index.js';
import { ClassCap, LeafNode, TenantNode, Ticket } from '../../../../lib/scheduler/queue/queue-nodes.js';
import { klass, tenant } from '../fixtures.js';

function leaves(n: number): LeafNode<number>[] {
  const tn = new TenantNode<number>('t', 0, tenant(), true, () => false);
  const cap = new ClassCap<number>(Infinity);
  return Array.from({ length: n }, (_, i) => new LeafNode<number>(tn, `c${i}`, i, klass(), 1, false, cap));
}

/** Queues tickets on leaves and takes them off (head or middle) as the scheduler does, checking peek against every queued ticket. */
class Model {
  readonly index = new DeadlineIndex<number>();
  readonly queued = new Set<Ticket<number>>();
  private seq = 0;

  constructor(readonly leaves: LeafNode<number>[]) {}

  add(leaf: LeafNode<number>, deadline: number): Ticket<number> {
    const tk = new Ticket(this.seq, 't', leaf.name, 0, deadline, this.seq++, leaf);
    leaf.push(tk);
    this.index.added(tk);
    this.queued.add(tk);
    return tk;
  }

  remove(tk: Ticket<number>): void {
    const wasHead = tk.leaf.head === tk;
    tk.leaf.unlink(tk);
    this.index.removed(tk, wasHead);
    this.queued.delete(tk);
  }

  earliest(): Ticket<number> | undefined {
    let best: Ticket<number> | undefined;
    for (const tk of this.queued) {
      if (!best || tk.deadline < best.deadline || (tk.deadline === best.deadline && tk.seq < best.seq)) best = tk;
    }
    return best;
  }
}

t.test('in-order arrivals: the head of the leaf due first', async (t) => {
  const [a, b] = leaves(2);
  const m = new Model([a!, b!]);
  const a1 = m.add(a!, 100);
  const b1 = m.add(b!, 50);
  m.add(a!, 120);
  t.equal(m.index.peek(), b1);
  m.remove(b1);
  t.equal(m.index.peek(), a1);
  m.remove(a1);
  t.equal(m.index.peek()?.deadline, 120);
});

t.test('a ticket due earlier than one before it (a shortened timeout) is found in the middle of its leaf', async (t) => {
  const [a] = leaves(1);
  const m = new Model([a!]);
  m.add(a!, 100);
  const short = m.add(a!, 40);
  const after = m.add(a!, 60);
  t.equal(m.index.peek(), short);
  m.remove(short);
  t.equal(m.index.peek(), after, 'the next one due is also behind a ticket due later');
  m.remove(after);
  t.equal(m.index.peek()?.deadline, 100);
});

t.test('tickets without a deadline are never due; finite ones behind them still are', async (t) => {
  const [a] = leaves(1);
  const m = new Model([a!]);
  const never = m.add(a!, Infinity);
  t.equal(m.index.peek(), never);
  const due = m.add(a!, 10);
  t.equal(m.index.peek(), due);
  m.remove(due);
  m.remove(never);
  t.equal(m.index.peek(), undefined);
});

t.test('property: peek is always the earliest queued ticket', async (t) => {
  const op = fc.oneof(
    fc.record({
      kind: fc.constant('add' as const),
      leaf: fc.nat(3),
      deadline: fc.oneof(fc.integer({ min: 0, max: 50 }), fc.constant(Infinity)),
    }),
    fc.record({ kind: fc.constant('head' as const), leaf: fc.nat(3) }),
    fc.record({ kind: fc.constant('any' as const), pick: fc.nat() }),
  );
  fc.assert(
    fc.property(fc.array(op, { maxLength: 200 }), (ops) => {
      const m = new Model(leaves(4));
      for (const o of ops) {
        if (o.kind === 'add') m.add(m.leaves[o.leaf]!, o.deadline);
        else if (o.kind === 'head') {
          const head = m.leaves[o.leaf]!.head;
          if (head) m.remove(head);
        } else if (m.queued.size > 0) m.remove([...m.queued][o.pick % m.queued.size]!);
        const want = m.earliest();
        const got = m.index.peek();
        if (want?.deadline !== got?.deadline) return false;
        if (want && want.deadline !== Infinity && want !== got) return false;
      }
      return true;
    }),
    { numRuns: 300 },
  );
  t.pass('300 random runs agree with a full scan');
});
