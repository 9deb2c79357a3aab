// Queue deadlines in O(log leaves): each leaf's FIFO is mostly in deadline order, so only its head and stragglers are indexed.
import { IndexedHeap } from './heap.js';
import type { LeafNode, Ticket } from './queue-nodes.js';

const byDeadline = <T>(a: Ticket<T>, b: Ticket<T>): boolean => a.deadline < b.deadline || (a.deadline === b.deadline && a.seq < b.seq);

const byHeadDeadline = <T>(a: LeafNode<T>, b: LeafNode<T>): boolean => byDeadline(a.head!, b.head!);

/**
 * A leaf's tickets share one queue timeout and arrive in order, so their deadlines rarely decrease along
 * its FIFO. A ticket whose deadline is no earlier than every ticket before it in its leaf (the leaf's
 * `maxDeadline`) needs no entry of its own: the leaf's head is due no later than it. Leaves holding tickets
 * sit in one heap keyed by their head's deadline; a ticket that arrives due earlier than one before it
 * (a reload shortened the timeout) is a straggler and gets its own entry. Keeping every ticket in one heap
 * instead cost O(log queued) per dispatch, growing with the number of waiting clients.
 */
export class DeadlineIndex<T> {
  private readonly leaves = new IndexedHeap<LeafNode<T>>(byHeadDeadline, {
    get: (l) => l.deadlinePos,
    set: (l, i) => void (l.deadlinePos = i),
  });
  private readonly stragglers = new IndexedHeap<Ticket<T>>(byDeadline, {
    get: (t) => t.heapPos,
    set: (t, i) => void (t.heapPos = i),
  });

  /** A ticket was just pushed onto its leaf's tail. */
  added(t: Ticket<T>): void {
    const leaf = t.leaf;
    if (t.deadline >= leaf.maxDeadline) leaf.maxDeadline = t.deadline;
    else this.stragglers.push(t);
    if (leaf.head === t) this.leaves.push(leaf);
  }

  /** A ticket was just unlinked from its leaf; `wasHead`: it was the leaf's head. */
  removed(t: Ticket<T>, wasHead: boolean): void {
    if (t.heapPos >= 0) this.stragglers.remove(t);
    if (!wasHead) return;
    const leaf = t.leaf;
    if (leaf.head) this.leaves.update(leaf);
    else {
      this.leaves.remove(leaf);
      leaf.maxDeadline = -Infinity;
    }
  }

  /** The queued ticket due first (deadline Infinity when none is due ever), or undefined when nothing is queued. */
  peek(): Ticket<T> | undefined {
    const head = this.leaves.peek()?.head ?? undefined;
    const straggler = this.stragglers.peek();
    if (!straggler) return head;
    return !head || byDeadline(straggler, head) ? straggler : head;
  }
}
