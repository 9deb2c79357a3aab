// An intrusive doubly-linked list: the list an object sits in is its state, and move() is the only transition.

export interface Listed<T extends Listed<T>> {
  prev: T | null;
  next: T | null;
  list: List<T> | null;
}

export class List<T extends Listed<T>> {
  private head: T | null = null;
  private tail: T | null = null;
  size = 0;

  constructor(readonly name: string) {}

  /** Append at the tail (the most recently used end). */
  push(item: T): void {
    item.prev = this.tail;
    item.next = null;
    if (this.tail) this.tail.next = item;
    else this.head = item;
    this.tail = item;
    item.list = this;
    this.size++;
  }

  remove(item: T): void {
    if (item.list !== this) return;
    if (item.prev) item.prev.next = item.next;
    else this.head = item.next;
    if (item.next) item.next.prev = item.prev;
    else this.tail = item.prev;
    item.prev = item.next = null;
    item.list = null;
    this.size--;
  }

  /** The most recently pushed item (LIFO reuse keeps warm connections warm). */
  last(): T | null {
    return this.tail;
  }

  /** The least recently pushed item. */
  first(): T | null {
    return this.head;
  }

  *[Symbol.iterator](): IterableIterator<T> {
    for (let x = this.head; x; ) {
      const next: T | null = x.next;
      yield x;
      x = next;
    }
  }
}

/** Moves an item from whatever list it is in to another: the single state transition. */
export function move<T extends Listed<T>>(item: T, to: List<T> | null): void {
  item.list?.remove(item);
  to?.push(item);
}
