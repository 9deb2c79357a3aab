// The public contract shared by the fair, fifo and shadow slot queues: results, options and the snapshot shape.
import type { Grant, Ticket } from './queue-nodes.js';
import type { SchedulerPolicy } from './policy.js';

import type { RejectReason, RejectionCounts } from './reject-reason.js';

export type { RejectReason, RejectionCounts } from './reject-reason.js';

export type Rejection = {
  reason: RejectReason;
  tenant: string;
  cls: string;
  waitedMs: number;
  /** Early reject: the wait expected at enqueue, and the timeout it exceeds (ms). */
  expectedMs?: number;
  timeoutMs?: number;
};

export function isRejection<X extends object>(r: X | Rejection): r is Rejection {
  return 'reason' in r;
}

/** Why a slot stayed free while work waited: the only reasons the scheduler may leave one idle. */
export type IdleReason = 'limit' | 'rate' | 'headroom' | 'elastic' | 'connection';

/** The number of slots elastic classes may hold now (the adaptive limit implements this). */
export interface ElasticBudget {
  elasticSlots(): number;
}

export interface SchedulerOptions {
  /** Caps elastic classes; without it they are only bound by their limits and the headroom rule. */
  elastic?: ElasticBudget;
  /** Unlisted tenants with nothing queued or held are forgotten after this long (default 300 s). */
  idleTenantTtlMs?: number;
  /** Shift all virtual times back to 0 once they exceed this (default 1e9), against float drift. */
  renormalizeAbove?: number;
  /** Time constant of the decayed slot-time used for `receivedShare` (default 10 s). */
  shareWindowMs?: number;
  /** Weight of the newest hold time in a leaf's cost estimate (default 0.2). */
  costEwmaAlpha?: number;
  /**
   * A mirror of another queue (shadow mode): every enqueue is accepted and nothing times out on its own,
   * because admission and expiry were already decided by the queue it mirrors.
   */
  mirror?: boolean;
}

export interface Expired<T> {
  item: T;
  rejection: Rejection;
  ticket: Ticket<T>;
}

export interface ClassSnapshot {
  cls: string;
  weight: number;
  /** Per-tenant concurrency cap of the class; Infinity = none. */
  limit: number;
  lane: 'short' | 'long';
  elastic: boolean;
  queued: number;
  held: number;
  /** Slot-milliseconds held since the leaf was created. */
  slotMs: number;
  /** The hold-time estimate charged at the next dispatch. */
  estimateMs: number;
  /** The class limit, or the class's total limit across tenants, keeps this leaf's queued work from a slot. */
  atLimit: boolean;
  /** The tenant's entitled share split among its classes by weight, limit and demand, 0..1 of the budget. */
  entitledShare: number;
  /** Share of the budget's recent slot-time this class received, 0..1. */
  receivedShare: number;
  /** 99th percentile of queue waits dispatched in the last one to two minutes, ms; null without any. */
  waitP99Ms: number | null;
  rejections: RejectionCounts;
}

export interface TenantSnapshot {
  tenant: string;
  weight: number;
  reservation: number;
  limit: number;
  queued: number;
  held: number;
  slotMs: number;
  /** Fair entitlement among tenants with demand (weights, reservations, limits, demand), 0..1. */
  entitledShare: number;
  /** Share of recent slot-time (exponentially decayed over shareWindowMs), 0..1. */
  receivedShare: number;
  /** 99th percentile of queue waits dispatched in the last one to two minutes, ms; null without any. */
  waitP99Ms: number | null;
  /** Why its queued work cannot take a slot now, if a tenant-level cap is the reason. */
  blocked: 'limit' | 'rate' | null;
  rejections: RejectionCounts;
  classes: ClassSnapshot[];
}

export interface SchedulerSnapshot {
  mode: 'fair' | 'fifo' | 'shadow';
  at: number;
  slots: number;
  held: number;
  queued: number;
  /** Slots the lane rule keeps free for short-lane work right now. */
  headroomRequired: number;
  /** Σ max(0, reservation − held) over known tenants. */
  reservationDeficit: number;
  elasticSlots: number;
  elasticHeld: number;
  /** System virtual time (slot-ms per unit weight since the last renormalization). */
  virtualTime: number;
  idle: {
    /** The reason the last next() left a slot free while work waited, until the state changes. */
    reason: IdleReason | null;
    /** Slot-milliseconds left idle while work waited, by reason. */
    slotMs: Record<IdleReason, number>;
    /** How often next() declined with a free slot and waiting work, by reason. */
    events: Record<IdleReason, number>;
  };
  rejections: RejectionCounts;
  tenants: TenantSnapshot[];
  /** Shadow mode: what the fair scheduler would have done with the same arrivals. */
  shadow?: SchedulerSnapshot;
  /** The adaptive limit's state, when the budget has one (the scheduler adds it; the queue knows only its budget). */
  adaptive?: AdaptiveView;
}

/** A budget's adaptive limit at one moment, as the admin console and metrics see it. */
export interface AdaptiveView {
  /** Slots elastic classes may hold now: the lower of the two limits, rounded down (the minimum while probing). */
  elasticSlots: number;
  /** The limit latency-sensitive work's latency sets (unrounded). */
  latencyLimit: number;
  /** The limit elastic work's own slowdown sets (unrounded). */
  ownLimit: number;
  /** The last window's latency percentile of latency-sensitive work, ms; null before one. */
  latencyMs: number | null;
  /** Its baseline (minRTT), ms; null before one. */
  baselineMs: number | null;
  /** Elastic statements' latency over their own baselines in the last window; null before one. */
  elasticInflation: number | null;
  probing: boolean;
}

/**
 * Admission events, for metrics. `leaf` is the same object for every event of one (budget, tenant, class)
 * while the scheduler remembers that pair, so an observer can cache per leaf instead of per label set.
 */
export interface SchedulerObserver {
  /** A transaction got its slot after waitedMs in the queue. */
  granted(leaf: object, budget: string, tenant: string, cls: string, waitedMs: number): void;
  /** Its slot came back after heldMs. */
  released(leaf: object, budget: string, tenant: string, cls: string, heldMs: number): void;
  /** A transaction was refused or taken out of the queue; leaf is null when it never got into one. */
  rejected(leaf: object | null, budget: string, tenant: string, cls: string, reason: RejectReason): void;
  /** An idle server connection of `pool` was closed to make room for another pool of the same budget. */
  evicted(pool: string): void;
}

/** The interface the pool drives; QueueEngine, QueueEngine and ShadowQueue all implement it. */
export interface SlotQueue<T> {
  setPolicy(policy: SchedulerPolicy): void;
  enqueue(item: T, tenant: string, cls: string): Ticket<T> | Rejection;
  remove(ticket: Ticket<T>): boolean;
  /**
   * The next grant; `accept` may decline the item whose turn it is (it then stays first in line), and
   * `instead` may then name another queued ticket to grant out of turn, if its limits let it run now.
   */
  next(accept?: (item: T) => boolean, instead?: () => Ticket<T> | null): Grant<T> | null;
  /**
   * enqueue() and next() in one step when nothing is queued (the uncontended fast path): the grant or the
   * rejection they would give, or null, with nothing changed, when it cannot tell; enqueue() and next() then decide.
   */
  grantNow(item: T, tenant: string, cls: string, accept?: (item: T) => boolean): Grant<T> | Rejection | null;
  /** Whether `taker`'s tenant is owed the slot `giver`'s would take next (fair mode only; both queued). */
  owes(taker: Ticket<T>, giver: Ticket<T>): boolean;
  release(grant: Grant<T>): void;
  /** The grant waited ms for a server connection: slot time its tenant is not charged for. */
  waitedForConnection(grant: Grant<T>, ms: number): void;
  tick(): void;
  expire(): Expired<T>[];
  nextDeadline(): number | null;
  snapshot(): SchedulerSnapshot;
  readonly held: number;
  readonly queued: number;
  /** Slots held by elastic classes (what the adaptive limit's app-limited rule looks at). */
  readonly elasticHeld: number;
}
