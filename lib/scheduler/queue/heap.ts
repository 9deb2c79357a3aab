// Indexed binary min-heap: nodes remember their position, so update and remove are O(log n).

/** Where a node keeps its position in one particular heap (a node may sit in several heaps). */
export interface HeapSlot<T> {
  get(node: T): number;
  set(node: T, index: number): void;
}

/** A slot stored in `node.pos[i]`, for nodes that belong to several heaps at once. */
export function arraySlot<T extends { pos: number[] }>(i: number): HeapSlot<T> {
  return {
    get: (node) => node.pos[i]!,
    set: (node, index) => {
      node.pos[i] = index;
    },
  };
}

export class IndexedHeap<T> {
  private readonly items: T[] = [];

  /** `less` must be a strict order; ties should be broken (e.g. by a sequence number) for determinism. */
  constructor(
    private readonly less: (a: T, b: T) => boolean,
    private readonly slot: HeapSlot<T>,
  ) {}

  get size(): number {
    return this.items.length;
  }

  peek(): T | undefined {
    return this.items[0];
  }

  has(node: T): boolean {
    const i = this.slot.get(node);
    return i >= 0 && i < this.items.length && this.items[i] === node;
  }

  push(node: T): void {
    if (this.has(node)) {
      this.update(node);
      return;
    }
    this.items.push(node);
    this.siftUp(this.items.length - 1, node);
  }

  pop(): T | undefined {
    const top = this.items[0];
    if (top === undefined) return undefined;
    this.removeAt(0);
    return top;
  }

  remove(node: T): boolean {
    if (!this.has(node)) return false;
    this.removeAt(this.slot.get(node));
    return true;
  }

  /** Restore order after the node's key changed (either direction). No-op for absent nodes. */
  update(node: T): void {
    if (!this.has(node)) return;
    const i = this.slot.get(node);
    if (i > 0 && this.less(node, this.items[(i - 1) >> 1]!)) this.siftUp(i, node);
    else this.siftDown(i, node);
  }

  /** Empties the heap; for rebuilding after many keys changed at once (sifting one by one is not enough). */
  clear(): void {
    for (const node of this.items) this.slot.set(node, -1);
    this.items.length = 0;
  }

  /** The stored nodes in heap (not sorted) order; do not mutate. */
  values(): readonly T[] {
    return this.items;
  }

  private removeAt(i: number): void {
    const items = this.items;
    const gone = items[i]!;
    const last = items.pop()!;
    this.slot.set(gone, -1);
    if (i === items.length) return;
    if (i > 0 && this.less(last, items[(i - 1) >> 1]!)) this.siftUp(i, last);
    else this.siftDown(i, last);
  }

  /** Moves the hole at i up until `node` fits, then places it. */
  private siftUp(i: number, node: T): void {
    const items = this.items;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      const p = items[parent]!;
      if (!this.less(node, p)) break;
      items[i] = p;
      this.slot.set(p, i);
      i = parent;
    }
    items[i] = node;
    this.slot.set(node, i);
  }

  private siftDown(i: number, node: T): void {
    const items = this.items;
    const n = items.length;
    for (;;) {
      let child = 2 * i + 1;
      if (child >= n) break;
      const right = child + 1;
      if (right < n && this.less(items[right]!, items[child]!)) child = right;
      const c = items[child]!;
      if (!this.less(c, node)) break;
      items[i] = c;
      this.slot.set(c, i);
      i = child;
    }
    items[i] = node;
    this.slot.set(node, i);
  }
}
