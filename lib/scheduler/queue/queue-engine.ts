// The slot queue engine, in fair or fifo order: queueing, dispatch, slot-time charging, timeouts and accounting.
import { DeadlineIndex } from './deadline-index.js';
import { List, move } from '../../list.js';
import { assertValidPolicy, classPolicyOf, queueTimeoutOf, resolveClassName, usesHeadroomRule, type SchedulerPolicy } from './policy.js';
import { ReadyIndex, type Choice } from './ready-index.js';
import { owesSlot } from './hand-over.js';
import { ELASTIC, Grant, Ticket, type LeafNode, type TenantNode } from './queue-nodes.js';
import { buildSnapshot, SchedulerStats } from './queue-stats.js';
import type { Expired, IdleReason, RejectReason, Rejection, SchedulerOptions, SchedulerSnapshot, SlotQueue } from './queue-types.js';
import { TenantRegistry } from './tenant-registry.js';
import { account, chargeVtime, shiftStartTags, trueUp } from './slot-charges.js';

/** Every dispatch costs at least this much slot time, so zero-length holds cannot monopolize dispatch. */
const MIN_COST_MS = 0.05;

/**
 * fair: two-level (tenant → class) start-time fair queueing, mClock-style. Reservations first (smallest
 * held/reservation), then the smallest tenant start tag, then the smallest class start tag within the
 * tenant, FIFO within the class. Costs are slot-milliseconds: estimated at dispatch, accrued by tick(),
 * trued up at release (docs/isolation.md §2).
 * fifo: the oldest queued item whose tenant limit, class limit and wait-mode rate allow it, so a capped
 * tenant does not block the others. Depth caps, timeouts and reject-mode rates apply as in fair order;
 * weights, reservations, headroom and the elastic budget do not.
 */
export type Ordering = 'fair' | 'fifo';

export class QueueEngine<T> implements SlotQueue<T> {
  private policy: SchedulerPolicy;
  private readonly ready: ReadyIndex<T>;
  private readonly registry: TenantRegistry<T>;
  private readonly deadlines = new DeadlineIndex<T>();
  private readonly inflight = new List<Grant<T>>('in flight');
  private readonly stats = new SchedulerStats();
  private readonly renormalizeAbove: number;
  private readonly shareWindowMs: number;
  private readonly alpha: number;
  private heldTotal = 0;
  private queuedTotal = 0;
  private elasticHeldTotal = 0;
  private seq = 0;
  private maxLocalClock = 0;
  /** When short-lane work last queued: the headroom is kept for it until headroomFadeMs after. */
  private lastShortAt = -Infinity;

  constructor(
    readonly ordering: Ordering,
    policy: SchedulerPolicy,
    private readonly now: () => number,
    private readonly options: SchedulerOptions = {},
  ) {
    assertValidPolicy(policy);
    this.policy = policy;
    this.renormalizeAbove = options.renormalizeAbove ?? 1e9;
    this.shareWindowMs = options.shareWindowMs ?? 10_000;
    this.alpha = options.costEwmaAlpha ?? 0.2;
    this.ready = new ReadyIndex<T>(ordering === 'fifo', () => this.policy.burstSlotSeconds * 1000);
    this.registry = new TenantRegistry(policy, this.ready, now, options.idleTenantTtlMs ?? 300_000);
  }

  get held(): number {
    return this.heldTotal;
  }
  get queued(): number {
    return this.queuedTotal;
  }
  /** Slots held by elastic classes (for the adaptive limit's app-limited check). */
  get elasticHeld(): number {
    return this.elasticHeldTotal;
  }
  /** Known tenants, including idle ones not yet garbage-collected. */
  get tenantCount(): number {
    return this.registry.size;
  }

  setPolicy(policy: SchedulerPolicy): void {
    assertValidPolicy(policy);
    const now = this.now();
    this.stats.close(now);
    this.policy = policy;
    this.registry.reload(policy);
    for (const t of this.registry.byName.values()) this.maybeRatePark(t, now);
  }

  enqueue(item: T, tenant: string, cls: string): Ticket<T> | Rejection {
    const now = this.now();
    this.stats.close(now);
    const t = this.registry.tenant(tenant);
    const name = resolveClassName(this.policy, cls);
    const cp = classPolicyOf(this.policy, name);
    const refused = this.options.mirror ? null : this.admission(t, cp.limit, now);
    if (refused) return this.reject(refused, t, name, 0);
    const leaf = this.registry.leaf(t, name);
    const timeout = queueTimeoutOf(t.policy, cp);
    if (this.policy.earlyReject && !this.options.mirror && timeout !== Infinity) {
      const expectedMs = this.expectedWaitMs(t, leaf);
      if (expectedMs > timeout) return { ...this.reject('early', t, name, 0), expectedMs, timeoutMs: timeout };
    }
    const deadline = this.options.mirror ? Infinity : now + timeout;
    if (!usesHeadroomRule(cp)) this.lastShortAt = now;
    const ticket = new Ticket(item, tenant, name, now, deadline, this.seq++, leaf);
    leaf.push(ticket);
    this.deadlines.added(ticket);
    this.addQueued(t, 1);
    if (t.queued === 1) {
      this.registry.markActive(t);
      this.maybeRatePark(t, now);
    }
    this.ready.syncLeaf(leaf);
    return ticket;
  }

  remove(ticket: Ticket<T>): boolean {
    if (!this.withdraw(ticket)) return false;
    this.stats.countRejection('cancel', ticket.leaf.tenant, ticket.leaf);
    return true;
  }

  /** Takes a queued item out without counting a cancellation (a mirror following its real queue). */
  withdraw(ticket: Ticket<T>): boolean {
    if (!ticket.queued || this.registry.byName.get(ticket.tenant) !== ticket.leaf.tenant) return false;
    const now = this.now();
    this.stats.close(now);
    this.unqueue(ticket, now);
    return true;
  }

  /** The next grant, if a slot is free and `accept` takes the item whose turn it is, else `instead`'s ticket if it may run. */
  next(accept?: (item: T) => boolean, instead?: () => Ticket<T> | null): Grant<T> | null {
    const free = this.policy.slots - this.heldTotal;
    // Nothing to grant, no idle interval to close, no rate-parked tenant to wake: the usual last call of a
    // dispatch loop reads no clock.
    if ((this.queuedTotal === 0 || free <= 0) && !this.stats.idle && this.ready.rate.size === 0) return null;
    const now = this.now();
    this.stats.close(now);
    this.ready.wakeRate(now);
    if (this.queuedTotal === 0 || free <= 0) return null;
    const elasticOpen = this.elasticHeldTotal < this.elasticBudget();
    const pick = this.ready.pickRunnable(elasticOpen);
    if (!pick) {
      this.stats.markIdle(this.blockedReason(elasticOpen), free, now);
      return null;
    }
    // The fair choice waits for headroom rather than yielding to later work: otherwise a short-lane
    // flood would refill every freed slot and long-lane work would starve.
    if (!this.laneAllows(pick, free, now)) {
      this.stats.markIdle('headroom', free, now);
      return null;
    }
    // Its turn waits for a connection of its own pool, so the slot stays free for pools that have one.
    if (accept && !accept(pick.leaf.head!.item)) {
      const alt = instead?.();
      if (alt && this.mayJump(alt, free, elasticOpen, now)) return this.dispatch(alt.leaf, now, alt);
      this.stats.markIdle('connection', free, now);
      return null;
    }
    return this.dispatch(pick.leaf, now);
  }

  /** Whether fair queueing owes `taker`'s tenant the slot `giver`'s tenant would take next (see owesSlot). */
  owes(taker: Ticket<T>, giver: Ticket<T>): boolean {
    if (this.ordering === 'fifo' || !taker.queued || !giver.queued) return false;
    return owesSlot(taker.leaf.tenant, giver.leaf.tenant, this.policy.slots, this.registry.busyWeight);
  }

  /** The grant waited this long for its server connection (a login): its tenant is not charged for it. */
  waitedForConnection(grant: Grant<T>, ms: number): void {
    if (!grant.released) grant.unchargedMs += Math.max(0, ms);
  }

  release(grant: Grant<T>): void {
    if (grant.released || grant.list !== this.inflight) return;
    move(grant, null);
    grant.released = true;
    const now = this.now();
    this.stats.close(now);
    const leaf = grant.leaf;
    const t = leaf.tenant;
    const heldMs = Math.max(0, now - grant.dispatchedAt - grant.unchargedMs);
    account(grant, heldMs, now, this.shareWindowMs);
    trueUp(grant, Math.max(heldMs, MIN_COST_MS));
    leaf.estimateMs = Math.max(MIN_COST_MS, leaf.estimateMs + this.alpha * (heldMs - leaf.estimateMs));
    this.addHeld(t, leaf, -1, grant.elastic);
    this.ready.syncLeaf(leaf);
    if (t.queued === 0 && t.held === 0) this.registry.markIdle(t, now);
  }

  /** Charges elapsed hold time of in-flight grants, so a long transaction does not look cheap while running. */
  tick(): void {
    const now = this.now();
    this.stats.close(now);
    for (let g = this.inflight.first(); g; g = g.next) {
      const elapsed = now - g.dispatchedAt - g.unchargedMs;
      account(g, elapsed, now, this.shareWindowMs);
      if (elapsed > g.charged) {
        chargeVtime(g.leaf, elapsed - g.charged);
        g.charged = elapsed;
        this.ready.syncLeaf(g.leaf);
      }
    }
    this.registry.collect(now);
    this.maybeRenormalize();
  }

  expire(): Expired<T>[] {
    const now = this.now();
    this.stats.close(now);
    const out: Expired<T>[] = [];
    for (let tk = this.deadlines.peek(); tk && tk.deadline <= now; tk = this.deadlines.peek()) {
      this.unqueue(tk, now);
      const rejection = this.reject('timeout', tk.leaf.tenant, tk.cls, now - tk.enqueuedAt);
      out.push({ item: tk.item, rejection, ticket: tk });
    }
    return out;
  }

  nextDeadline(): number | null {
    const due = Math.min(this.deadlines.peek()?.deadline ?? Infinity, this.ready.rate.peek()?.eligibleAt ?? Infinity);
    return due === Infinity ? null : due;
  }

  snapshot(): SchedulerSnapshot {
    const now = this.now();
    return buildSnapshot(
      {
        mode: this.ordering,
        at: now,
        slots: this.policy.slots,
        held: this.heldTotal,
        queued: this.queuedTotal,
        headroomRequired: this.ordering === 'fifo' ? 0 : this.headroomRequired(this.registry.deficit, now),
        reservationDeficit: this.registry.deficit,
        elasticSlots: this.elasticBudget(),
        elasticHeld: this.elasticHeldTotal,
        virtualTime: this.ready.vclock,
        shareWindowMs: this.shareWindowMs,
        tenants: this.registry.byName.values(),
      },
      this.stats,
    );
  }

  private admission(t: TenantNode<T>, classLimit: number, now: number): RejectReason | null {
    if (t.policy.limit === 0 || classLimit === 0) return 'limit';
    if (t.queued >= t.policy.maxQueue) return 'queue_full';
    if (t.policy.rate?.mode === 'reject' && !t.bucket!.tryTake(now)) return 'rate';
    return null;
  }

  /**
   * The wait a new arrival can expect: the work queued ahead of it in its leaf, at the leaf's hold-time
   * estimate, spread over the slots the tenant may hold (its weighted share of the budget among busy
   * tenants, within its limits). Optimistic on purpose: it ignores the class split inside the tenant.
   */
  private expectedWaitMs(t: TenantNode<T>, leaf: LeafNode<T>): number {
    if (leaf.size === 0) return 0;
    const weight = t.policy.weight;
    const share = (this.policy.slots * weight) / Math.max(weight, this.registry.busyWeight + (t.busy ? 0 : weight));
    const parallel = Math.max(1, Math.min(share, t.policy.limit, leaf.policy.limit, leaf.cap.limit));
    return (leaf.size / parallel) * leaf.estimateMs;
  }

  private reject(reason: RejectReason, t: TenantNode<T>, cls: string, waitedMs: number): Rejection {
    // Class names are already resolved, so the leaves this creates stay bounded by the configured classes.
    this.stats.countRejection(reason, t, this.registry.leaf(t, cls));
    return { reason, tenant: t.name, cls, waitedMs };
  }

  private unqueue(ticket: Ticket<T>, now: number): void {
    const leaf = ticket.leaf;
    const t = leaf.tenant;
    const wasHead = leaf.head === ticket;
    leaf.unlink(ticket);
    ticket.queued = false;
    this.deadlines.removed(ticket, wasHead);
    this.addQueued(t, -1);
    this.ready.syncLeaf(leaf);
    if (t.queued === 0 && t.held === 0) this.registry.markIdle(t, now);
  }

  /** A ticket may be granted out of turn only under every rule its own turn would obey, the headroom's too. */
  private mayJump(ticket: Ticket<T>, free: number, elasticOpen: boolean, now: number): boolean {
    if (!ticket.queued || this.registry.byName.get(ticket.tenant) !== ticket.leaf.tenant) return false;
    return this.ready.runnable(ticket.leaf, elasticOpen) && this.laneAllows({ leaf: ticket.leaf, reserved: false }, free, now);
  }

  private dispatch(leaf: LeafNode<T>, now: number, ticket: Ticket<T> = leaf.head!): Grant<T> {
    // Out of turn (see next's `instead`), the ticket need not be its leaf's head.
    const wasHead = leaf.head === ticket;
    leaf.unlink(ticket);
    ticket.queued = false;
    this.deadlines.removed(ticket, wasHead);
    this.addQueued(leaf.tenant, -1);
    return this.grantTicket(leaf, now, ticket);
  }

  /**
   * The uncontended fast path (QueueEngine.grantNow's and the scheduler's): nothing is queued, so the item
   * would be the only candidate of enqueue() and next(). Grants it with the same accounting, without the ready
   * index's heaps, the deadline heap and the tenant's idle-list churn. null when it cannot tell (a rule of the
   * slow path could apply: a full budget, a limit, the headroom, a wait-mode rate, `accept` declining, a mirror);
   * nothing changed then, and enqueue() and next() decide.
   */
  grantNow(item: T, tenant: string, cls: string, accept?: (item: T) => boolean): Grant<T> | Rejection | null {
    const free = this.policy.slots - this.heldTotal;
    if (this.queuedTotal !== 0 || free <= 0 || this.options.mirror || this.ready.rate.size > 0 || (accept && !accept(item))) return null;
    const t = this.registry.tenant(tenant);
    const name = resolveClassName(this.policy, cls);
    const leaf = this.registry.leaf(t, name);
    const now = this.now();
    // As enqueue() would: short-lane work arriving keeps the headroom (headroomFadeMs), granted here or not.
    if (!usesHeadroomRule(leaf.policy)) this.lastShortAt = now;
    if (t.policy.rate?.mode === 'wait' || !this.aloneRunnable(leaf, free, now)) return null;
    this.stats.close(now);
    const cp = classPolicyOf(this.policy, name);
    const refused = this.admission(t, cp.limit, now);
    if (refused) return this.reject(refused, t, name, 0);
    const ticket = new Ticket(item, tenant, name, now, now + queueTimeoutOf(t.policy, cp), this.seq++, leaf);
    ticket.queued = false;
    // What enqueue() does for a tenant's first queued item, and syncLeaf/syncTenant for a leaf entering the index.
    this.registry.markActive(t);
    this.ready.clampAlone(leaf);
    return this.grantTicket(leaf, now, ticket);
  }

  /** Whether the ready index would pick this leaf, were it the only queued one (see ReadyIndex.syncLeaf and runnable). */
  private aloneRunnable(leaf: LeafNode<T>, free: number, now: number): boolean {
    const t = leaf.tenant;
    if (leaf.held >= leaf.policy.limit || leaf.cap.full || t.held >= t.policy.limit || t.rateParked) return false;
    if (leaf.cat === ELASTIC && this.elasticHeldTotal >= this.elasticBudget()) return false;
    return this.laneAllows({ leaf, reserved: false }, free, now);
  }

  private grantTicket(leaf: LeafNode<T>, now: number, ticket: Ticket<T>): Grant<T> {
    const t = leaf.tenant;
    const grant = new Grant(ticket, now, t.vtime, leaf.vtime, leaf.estimateMs);
    t.waits.record(grant.waitedMs, now);
    leaf.waits.record(grant.waitedMs, now);
    grant.elastic = leaf.policy.elastic;
    if (t.vtime > this.ready.vclock) this.ready.vclock = t.vtime;
    if (leaf.vtime > t.localClock) t.localClock = leaf.vtime;
    if (t.localClock > this.maxLocalClock) this.maxLocalClock = t.localClock;
    chargeVtime(leaf, leaf.estimateMs);
    this.addHeld(t, leaf, 1, grant.elastic);
    if (t.policy.rate?.mode === 'wait') {
      t.bucket!.take(now);
      this.maybeRatePark(t, now);
    }
    this.ready.syncLeaf(leaf);
    move(grant, this.inflight);
    return grant;
  }

  /** Afterwards free ≥ min(H.max, H.min + Σ deficits), the deficit sum counted after this dispatch. */
  private laneAllows(pick: Choice<T>, free: number, now: number): boolean {
    if (this.ordering === 'fifo' || !usesHeadroomRule(pick.leaf.policy)) return true;
    const t = pick.leaf.tenant;
    const deficitAfter = this.registry.deficit - (t.held < t.policy.reservation ? 1 : 0);
    return free - 1 >= this.headroomRequired(deficitAfter, now);
  }

  /**
   * H.min is kept for short-lane work only while there is some: a workload of long queries alone would
   * otherwise leave it idle for nobody (the first short query after the fade waits for one release).
   */
  private headroomRequired(deficit: number, now: number): number {
    const fade = this.policy.headroomFadeMs ?? 0;
    const min = fade > 0 && now - this.lastShortAt > fade ? 0 : this.policy.headroom.min;
    return Math.min(this.policy.headroom.max, min + deficit);
  }

  private elasticBudget(): number {
    if (this.ordering === 'fifo') return Infinity;
    return this.options.elastic?.elasticSlots() ?? Infinity;
  }

  private blockedReason(elasticOpen: boolean): IdleReason {
    if (this.ready.rateBlockedQueued > 0) return 'rate';
    if (!elasticOpen && this.ready.weight[ELASTIC].size > 0) return 'elastic';
    return 'limit';
  }

  private addQueued(t: TenantNode<T>, delta: number): void {
    t.queued += delta;
    this.queuedTotal += delta;
    if (t.rateParked) this.ready.rateBlockedQueued += delta;
    this.registry.syncBusy(t);
  }

  private addHeld(t: TenantNode<T>, leaf: LeafNode<T>, delta: number, elastic: boolean): void {
    this.registry.deficit -= t.deficit;
    t.held += delta;
    leaf.held += delta;
    leaf.cap.held += delta;
    this.heldTotal += delta;
    if (elastic) this.elasticHeldTotal += delta;
    this.registry.deficit += t.deficit;
    this.registry.syncBusy(t);
    if (delta < 0) this.ready.unparkCap(leaf.cap);
  }

  private maybeRatePark(t: TenantNode<T>, now: number): void {
    if (t.rateParked || t.queued === 0 || t.policy.rate?.mode !== 'wait') return;
    const at = t.bucket!.readyAt(now);
    if (at > now) this.ready.parkRate(t, at);
  }

  private maybeRenormalize(): void {
    if (this.ordering === 'fifo') return;
    if (this.ready.vclock < this.renormalizeAbove && this.maxLocalClock < this.renormalizeAbove) return;
    shiftStartTags(this.ready.vclock, this.inflight, this.registry.byName.values());
    this.ready.vclock = 0;
    this.maxLocalClock = 0;
  }
}
