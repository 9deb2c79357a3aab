// The scheduler's records: queued tickets, granted slots, (tenant, class) leaves with their FIFO, and tenants.
import { IndexedHeap } from './heap.js';
import type { List, Listed } from '../../list.js';
import type { ClassPolicy, TenantPolicy } from './policy.js';
import { zeroCounts } from './reject-reason.js';
import type { TokenBucket } from './token-bucket.js';
import { WaitHistogram } from './wait-histogram.js';

/** Regular leaves compete always; elastic leaves only while the elastic budget has room. */
export const REGULAR = 0;
export const ELASTIC = 1;
export type Category = typeof REGULAR | typeof ELASTIC;

/** A queued item. Public fields are read-only for callers; the rest belongs to the scheduler. */
export class Ticket<T> {
  /** @internal neighbours in the leaf FIFO */
  prev: Ticket<T> | null = null;
  /** @internal */
  next: Ticket<T> | null = null;
  /** @internal position among the deadline index's stragglers */
  heapPos = -1;
  /** @internal true while waiting in a queue */
  queued = true;

  constructor(
    readonly item: T,
    readonly tenant: string,
    readonly cls: string,
    readonly enqueuedAt: number,
    /** Queue timeout instant in ms, Infinity when none. */
    readonly deadline: number,
    /** @internal arrival order, for FIFO ordering and tie-breaks */
    readonly seq: number,
    /** @internal */
    readonly leaf: LeafNode<T>,
  ) {}
}

/** A slot handed out by next(); give it back with release(). */
export class Grant<T> implements Listed<Grant<T>> {
  /** @internal neighbours in the queue's list of grants in flight (no hashing per grant, unlike a Set) */
  prev: Grant<T> | null = null;
  /** @internal */
  next: Grant<T> | null = null;
  /** @internal */
  list: List<Grant<T>> | null = null;
  /** @internal slot-ms charged to virtual time so far (estimate, then accrued) */
  charged: number;
  /** @internal slot-ms already added to usage counters */
  accounted = 0;
  /** @internal */
  released = false;
  /** @internal counted against the elastic budget (fixed at dispatch, whatever a reload changes) */
  elastic = false;
  /** @internal time spent waiting for a server connection after the grant: not charged as slot time */
  unchargedMs = 0;

  constructor(
    readonly ticket: Ticket<T>,
    readonly dispatchedAt: number,
    /** @internal tenant start tag before this grant's charge: true-up never refunds below it */
    public tenantStartTag: number,
    /** @internal leaf start tag before this grant's charge */
    public leafStartTag: number,
    estimateMs: number,
  ) {
    this.charged = estimateMs;
  }

  get item(): T {
    return this.ticket.item;
  }
  get tenant(): string {
    return this.ticket.tenant;
  }
  get cls(): string {
    return this.ticket.cls;
  }
  get waitedMs(): number {
    return this.dispatchedAt - this.ticket.enqueuedAt;
  }
  /** @internal */
  get leaf(): LeafNode<T> {
    return this.ticket.leaf;
  }
}

/** Exponentially decayed slot-time, for "received share" over a recent window. */
export class DecayedSum {
  value = 0;
  private at = 0;

  add(amount: number, now: number, windowMs: number): void {
    this.value = this.valueAt(now, windowMs) + amount;
    this.at = now;
  }

  valueAt(now: number, windowMs: number): number {
    return now > this.at ? this.value * Math.exp((this.at - now) / windowMs) : this.value;
  }
}

/** A class's slots across all tenants against its total limit; leaves it blocks wait in `parked` until a release. */
export class ClassCap<T> {
  held = 0;
  readonly parked = new Set<LeafNode<T>>();

  constructor(public limit: number) {}

  get full(): boolean {
    return this.held >= this.limit;
  }
}

/** One (tenant, class) pair: a FIFO of tickets plus the class-level virtual time. */
export class LeafNode<T> {
  head: Ticket<T> | null = null;
  tail: Ticket<T> | null = null;
  size = 0;
  held = 0;
  /** Class-level start tag within the tenant (slot-ms / class weight). */
  vtime = -Infinity;
  /** Position in the tenant's class heap of its category. */
  pos = -1;
  /** Position in the deadline index's heap of leaves, and the latest deadline queued here (see DeadlineIndex). */
  deadlinePos = -1;
  maxDeadline = -Infinity;
  cat: Category;
  slotMs = 0;
  readonly recent = new DecayedSum();
  readonly waits = new WaitHistogram();
  readonly rejections = zeroCounts();

  constructor(
    readonly tenant: TenantNode<T>,
    readonly name: string,
    readonly seq: number,
    public policy: ClassPolicy,
    /** EWMA of hold time in ms, charged at dispatch. */
    public estimateMs: number,
    fifoOrder: boolean,
    /** Shared by every leaf of this class in the budget. */
    readonly cap: ClassCap<T>,
  ) {
    this.cat = categoryOf(policy, fifoOrder);
  }

  push(t: Ticket<T>): void {
    t.prev = this.tail;
    t.next = null;
    if (this.tail) this.tail.next = t;
    else this.head = t;
    this.tail = t;
    this.size++;
  }

  unlink(t: Ticket<T>): void {
    if (t.prev) t.prev.next = t.next;
    else this.head = t.next;
    if (t.next) t.next.prev = t.prev;
    else this.tail = t.prev;
    t.prev = t.next = null;
    this.size--;
  }
}

/** FIFO mode has no elastic budget, so every leaf competes in the regular category. */
export function categoryOf(policy: ClassPolicy, fifoOrder: boolean): Category {
  return policy.elastic && !fifoOrder ? ELASTIC : REGULAR;
}

/** Positions of a tenant in the global heaps (see ReadyIndex). */
export const WEIGHT_SLOTS = [0, 1] as const;
export const RESERVE_SLOTS = [2, 3] as const;
export const RATE_SLOT = 4;

export class TenantNode<T> {
  readonly leaves = new Map<string, LeafNode<T>>();
  /** Leaves with queued work that their class limit lets run, one heap per category. */
  readonly classHeaps: readonly [IndexedHeap<LeafNode<T>>, IndexedHeap<LeafNode<T>>];
  readonly pos = [-1, -1, -1, -1, -1];
  /** Tenant-level start tag (slot-ms / weight). */
  vtime = -Infinity;
  /** FIFO mode's key: arrival number of the oldest runnable head. */
  arrivalKey = 0;
  /** Largest leaf start tag dispatched in this tenant: the class-level clamp base when no sibling waits. */
  localClock = 0;
  held = 0;
  queued = 0;
  /** In at least one weight heap (used to detect "becoming backlogged" for the clamp). */
  eligible = false;
  /** Counted in the registry's busy weight (it has work queued or held). */
  busy = false;
  bucket: TokenBucket | null = null;
  rateParked = false;
  eligibleAt = 0;
  slotMs = 0;
  readonly recent = new DecayedSum();
  readonly waits = new WaitHistogram();
  readonly rejections = zeroCounts();

  constructor(
    readonly name: string,
    readonly seq: number,
    public policy: TenantPolicy,
    /** Listed in the policy: kept forever (its reservation counts even while idle). */
    public listed: boolean,
    leafLess: (a: LeafNode<T>, b: LeafNode<T>) => boolean,
  ) {
    const slot = { get: (l: LeafNode<T>) => l.pos, set: (l: LeafNode<T>, i: number) => void (l.pos = i) };
    this.classHeaps = [new IndexedHeap(leafLess, slot), new IndexedHeap(leafLess, slot)];
  }

  /** Slots still missing to reach the reservation. */
  get deficit(): number {
    return Math.max(0, this.policy.reservation - this.held);
  }
}
