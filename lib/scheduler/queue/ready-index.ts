// Which tenants and leaves may take a slot, kept in indexed heaps so that picking and re-keying are O(log n).
import { arraySlot, IndexedHeap } from './heap.js';
import {
  ClassCap,
  ELASTIC,
  RATE_SLOT,
  REGULAR,
  RESERVE_SLOTS,
  WEIGHT_SLOTS,
  type Category,
  type LeafNode,
  type TenantNode,
} from './queue-nodes.js';

export interface Choice<T> {
  leaf: LeafNode<T>;
  /** Chosen by the reservation phase (the tenant was below its reservation). */
  reserved: boolean;
}

type Less<N> = (a: N, b: N) => boolean;

/**
 * Membership rules (kept by syncLeaf/syncTenant, the only writers):
 * - a leaf is in its tenant's class heap ⇔ it has queued work, is below its class limit, and its class's
 *   total cap was not full at its last sync (a leaf whose cap filled since is parked when picked: see pickRunnable);
 * - a tenant is in weight[k] ⇔ classHeaps[k] is non-empty, it is below its limit and not rate-parked;
 * - a tenant is in reserve[k] ⇔ it is in weight[k] and below its reservation.
 * Parked nodes are simply absent, so nothing walks over blocked tenants; they are re-armed by the event
 * (release, token refill) that unblocks them.
 */
export class ReadyIndex<T> {
  readonly weight: readonly [IndexedHeap<TenantNode<T>>, IndexedHeap<TenantNode<T>>];
  readonly reserve: readonly [IndexedHeap<TenantNode<T>>, IndexedHeap<TenantNode<T>>];
  /** Rate-parked tenants by the time a token is available (mClock's limit heap). */
  readonly rate: IndexedHeap<TenantNode<T>>;
  /** System virtual time: the largest tenant start tag dispatched; clamp base when no tenant waits. */
  vclock = 0;
  /** Queued items of rate-parked tenants: tells "idle because of rate" apart from "idle because of limits". */
  rateBlockedQueued = 0;
  /** Each class's total cap, by resolved class name (bounded by the config). */
  readonly caps = new Map<string, ClassCap<T>>();
  readonly leafLess: Less<LeafNode<T>>;
  private readonly tenantLess: Less<TenantNode<T>>;
  private readonly reserveLess: Less<TenantNode<T>>;

  constructor(
    /** FIFO mode orders by arrival instead of virtual time and skips clamps and reservations. */
    readonly fifoOrder: boolean,
    private readonly burstMs: () => number,
  ) {
    this.leafLess = fifoOrder ? leafByArrival : leafByVtime;
    this.tenantLess = fifoOrder ? tenantByArrival : tenantByVtime;
    this.reserveLess = (a, b) => {
      const x = a.held * b.policy.reservation;
      const y = b.held * a.policy.reservation;
      return x < y || (x === y && tenantByVtime(a, b));
    };
    const t = <N extends { pos: number[] }>(less: Less<N>, i: number) => new IndexedHeap<N>(less, arraySlot<N>(i));
    this.weight = [t(this.tenantLess, WEIGHT_SLOTS[0]), t(this.tenantLess, WEIGHT_SLOTS[1])];
    this.reserve = [t(this.reserveLess, RESERVE_SLOTS[0]), t(this.reserveLess, RESERVE_SLOTS[1])];
    this.rate = t((a, b) => a.eligibleAt < b.eligibleAt || (a.eligibleAt === b.eligibleAt && a.seq < b.seq), RATE_SLOT);
  }

  capFor(cls: string, limit: number): ClassCap<T> {
    let cap = this.caps.get(cls);
    if (!cap) this.caps.set(cls, (cap = new ClassCap<T>(limit)));
    return cap;
  }

  /** Re-establish the membership rules for a leaf (and its tenant) after any change to it. */
  syncLeaf(leaf: LeafNode<T>): void {
    const heap = leaf.tenant.classHeaps[leaf.cat];
    const runnable = leaf.size > 0 && leaf.held < leaf.policy.limit;
    if (runnable && leaf.cap.full) {
      heap.remove(leaf);
      leaf.cap.parked.add(leaf);
    } else if (runnable) {
      if (heap.has(leaf)) heap.update(leaf);
      else {
        this.clampLeaf(leaf);
        heap.push(leaf);
      }
    } else heap.remove(leaf);
    this.syncTenant(leaf.tenant);
  }

  /** A leaf changes category (policy reload): move it between the tenant's heaps. */
  recategorize(leaf: LeafNode<T>, cat: Category): void {
    leaf.tenant.classHeaps[leaf.cat].remove(leaf);
    leaf.cat = cat;
    this.syncLeaf(leaf);
  }

  syncTenant(t: TenantNode<T>): void {
    const open = t.held < t.policy.limit && !t.rateParked;
    const regular = open && t.classHeaps[REGULAR].size > 0;
    const elastic = open && t.classHeaps[ELASTIC].size > 0;
    // Becoming eligible = becoming backlogged for the clamp: no credit is banked while idle or parked.
    if ((regular || elastic) && !t.eligible) this.clampTenant(t);
    t.eligible = regular || elastic;
    const below = !this.fifoOrder && t.held < t.policy.reservation;
    if (this.fifoOrder && regular) t.arrivalKey = t.classHeaps[REGULAR].peek()!.head!.seq;
    place(this.weight[REGULAR], t, regular);
    place(this.weight[ELASTIC], t, elastic);
    place(this.reserve[REGULAR], t, regular && below);
    place(this.reserve[ELASTIC], t, elastic && below);
  }

  /**
   * The clamps a leaf gets on its way into the index and out again in one dispatch while nothing else is queued
   * (QueueEngine.grantNow): syncLeaf's as it enters its tenant's heap, syncTenant's as its tenant becomes eligible.
   */
  clampAlone(leaf: LeafNode<T>): void {
    this.clampLeaf(leaf);
    if (!leaf.tenant.eligible) this.clampTenant(leaf.tenant);
  }

  /** A reload may change every reservation at once: empty the reservation heaps, then sync every tenant. */
  resetReservations(): void {
    this.reserve[REGULAR].clear();
    this.reserve[ELASTIC].clear();
  }

  parkRate(t: TenantNode<T>, at: number): void {
    if (!t.rateParked) this.rateBlockedQueued += t.queued;
    t.rateParked = true;
    t.eligibleAt = at;
    this.rate.push(t);
    this.syncTenant(t);
  }

  /** Re-arms rate-parked tenants whose token has arrived. */
  wakeRate(now: number): void {
    for (let t = this.rate.peek(); t && t.eligibleAt <= now; t = this.rate.peek()) {
      this.unparkRate(t);
      this.syncTenant(t);
    }
  }

  /** Takes a tenant off the rate heap; the caller syncs it. */
  unparkRate(t: TenantNode<T>): void {
    if (!t.rateParked) return;
    this.rate.remove(t);
    t.rateParked = false;
    this.rateBlockedQueued -= t.queued;
  }

  /**
   * A class's total cap has room again: its parked leaves rejoin their tenants' heaps. O(parked) on this
   * event only; the ones that do not win the freed slot are parked again lazily when picked.
   */
  unparkCap(cap: ClassCap<T>): void {
    if (cap.parked.size === 0 || cap.full) return;
    const leaves = [...cap.parked];
    cap.parked.clear();
    for (const leaf of leaves) this.syncLeaf(leaf);
  }

  /** pick(), parking leaves whose class cap filled up since their last sync (HTB-style lazy ceiling check). */
  pickRunnable(elasticOpen: boolean): Choice<T> | null {
    let p = this.pick(elasticOpen);
    while (p?.leaf.cap.full) {
      this.syncLeaf(p.leaf);
      p = this.pick(elasticOpen);
    }
    return p;
  }

  /**
   * Whether a leaf could take a slot now out of turn: it is in its tenant's heap (queued work within its
   * class limit), its class cap has room, its tenant is eligible (below its limit, not rate-parked), and
   * an elastic leaf only while the elastic budget has room.
   */
  runnable(leaf: LeafNode<T>, elasticOpen: boolean): boolean {
    if (leaf.cap.full || (leaf.cat === ELASTIC && !elasticOpen)) return false;
    return leaf.tenant.classHeaps[leaf.cat].has(leaf) && this.weight[leaf.cat].has(leaf.tenant);
  }

  /** Reservation phase first (smallest held/reservation), then the weight phase (smallest start tag). */
  pick(elasticOpen: boolean): Choice<T> | null {
    const r = this.better(this.reserve, this.reserveLess, elasticOpen);
    if (r) return { leaf: this.bestLeaf(r, elasticOpen), reserved: true };
    const w = this.better(this.weight, this.tenantLess, elasticOpen);
    return w ? { leaf: this.bestLeaf(w, elasticOpen), reserved: false } : null;
  }

  /** The smallest start tag among eligible tenants, or undefined when none is eligible. */
  minEligibleVtime(): number | undefined {
    const a = this.weight[REGULAR].peek();
    const b = this.weight[ELASTIC].peek();
    if (!a) return b?.vtime;
    return b && b.vtime < a.vtime ? b.vtime : a.vtime;
  }

  private better(
    heaps: readonly [IndexedHeap<TenantNode<T>>, IndexedHeap<TenantNode<T>>],
    less: Less<TenantNode<T>>,
    elasticOpen: boolean,
  ): TenantNode<T> | undefined {
    const a = heaps[REGULAR].peek();
    const b = elasticOpen ? heaps[ELASTIC].peek() : undefined;
    if (!a) return b;
    return b && less(b, a) ? b : a;
  }

  private bestLeaf(t: TenantNode<T>, elasticOpen: boolean): LeafNode<T> {
    const a = t.classHeaps[REGULAR].peek();
    const b = elasticOpen ? t.classHeaps[ELASTIC].peek() : undefined;
    if (!a) return b!;
    return b && this.leafLess(b, a) ? b : a;
  }

  /** S = max(S, Vmin − B/w): Vmin over eligible siblings, else the system virtual time. */
  private clampTenant(t: TenantNode<T>): void {
    if (this.fifoOrder) return;
    const vmin = this.minEligibleVtime() ?? this.vclock;
    t.vtime = Math.max(t.vtime, vmin - this.burstMs() / t.policy.weight);
  }

  private clampLeaf(leaf: LeafNode<T>): void {
    if (this.fifoOrder) return;
    const t = leaf.tenant;
    const a = t.classHeaps[REGULAR].peek();
    const b = t.classHeaps[ELASTIC].peek();
    const vmin = Math.min(a?.vtime ?? Infinity, b?.vtime ?? Infinity);
    const base = vmin === Infinity ? t.localClock : vmin;
    leaf.vtime = Math.max(leaf.vtime, base - this.burstMs() / leaf.policy.weight);
  }
}

function place<N>(heap: IndexedHeap<N>, node: N, want: boolean): void {
  if (!want) heap.remove(node);
  else if (heap.has(node)) heap.update(node);
  else heap.push(node);
}

function leafByVtime<T>(a: LeafNode<T>, b: LeafNode<T>): boolean {
  return a.vtime < b.vtime || (a.vtime === b.vtime && a.seq < b.seq);
}

function leafByArrival<T>(a: LeafNode<T>, b: LeafNode<T>): boolean {
  return a.head!.seq < b.head!.seq;
}

function tenantByVtime<T>(a: TenantNode<T>, b: TenantNode<T>): boolean {
  return a.vtime < b.vtime || (a.vtime === b.vtime && a.seq < b.seq);
}

/** FIFO mode: a tenant's key is the oldest head among its runnable leaves (cached by syncTenant). */
function tenantByArrival<T>(a: TenantNode<T>, b: TenantNode<T>): boolean {
  return a.arrivalKey < b.arrivalKey;
}
