// Observability for the slot queues: idle-slot accounting by reason, rejection counters and snapshot building.
import type { TenantNode } from './queue-nodes.js';
import { zeroCounts } from './reject-reason.js';
import type { ClassSnapshot, IdleReason, RejectReason, RejectionCounts, SchedulerSnapshot, TenantSnapshot } from './queue-types.js';

const zeroIdle = (): Record<IdleReason, number> => ({ limit: 0, rate: 0, headroom: 0, elastic: 0, connection: 0 });

/** Counts the explicit reasons for leaving a slot idle, as slot-ms and as events. */
export class SchedulerStats {
  readonly rejections: RejectionCounts = zeroCounts();
  readonly idleSlotMs = zeroIdle();
  readonly idleEvents = zeroIdle();
  reason: IdleReason | null = null;
  private idleSince = 0;
  private idleFree = 0;

  /** next() declined although `free` slots were free and work waited. */
  markIdle(reason: IdleReason, free: number, now: number): void {
    this.close(now);
    this.reason = reason;
    this.idleSince = now;
    this.idleFree = free;
    this.idleEvents[reason]++;
  }

  /** Slots are being left free while work waits (an idle interval is open). */
  get idle(): boolean {
    return this.reason !== null;
  }

  /** Any state change ends the idle interval; the caller's next next() re-establishes it. */
  close(now: number): void {
    if (this.reason === null) return;
    this.idleSlotMs[this.reason] += Math.max(0, now - this.idleSince) * this.idleFree;
    this.reason = null;
  }

  countRejection(reason: RejectReason, tenant: { rejections: RejectionCounts } | null, leaf?: { rejections: RejectionCounts }): void {
    this.rejections[reason]++;
    if (tenant) tenant.rejections[reason]++;
    if (leaf) leaf.rejections[reason]++;
  }
}

export interface SnapshotView<T> {
  mode: SchedulerSnapshot['mode'];
  at: number;
  slots: number;
  held: number;
  queued: number;
  headroomRequired: number;
  reservationDeficit: number;
  elasticSlots: number;
  elasticHeld: number;
  virtualTime: number;
  shareWindowMs: number;
  tenants: Iterable<TenantNode<T>>;
}

export function buildSnapshot<T>(view: SnapshotView<T>, stats: SchedulerStats): SchedulerSnapshot {
  const tenants = [...view.tenants];
  const entitled = entitledShares(tenants, view.slots);
  const recent = tenants.map((t) => t.recent.valueAt(view.at, view.shareWindowMs));
  const recentTotal = recent.reduce((a, b) => a + b, 0);
  const shareOf = (r: number): number => (recentTotal > 0 ? r / recentTotal : 0);
  const rows: TenantSnapshot[] = tenants.map((t, i) => ({
    tenant: t.name,
    weight: t.policy.weight,
    reservation: t.policy.reservation,
    limit: t.policy.limit,
    queued: t.queued,
    held: t.held,
    slotMs: t.slotMs,
    entitledShare: entitled[i]!,
    receivedShare: shareOf(recent[i]!),
    waitP99Ms: t.waits.quantile(0.99, view.at),
    blocked: t.queued === 0 ? null : t.rateParked ? 'rate' : t.held >= t.policy.limit ? 'limit' : null,
    rejections: { ...t.rejections },
    classes: classRows(t, entitled[i]!, view, shareOf),
  }));
  return {
    mode: view.mode,
    at: view.at,
    slots: view.slots,
    held: view.held,
    queued: view.queued,
    headroomRequired: view.headroomRequired,
    reservationDeficit: view.reservationDeficit,
    elasticSlots: view.elasticSlots,
    elasticHeld: view.elasticHeld,
    virtualTime: view.virtualTime,
    idle: { reason: stats.reason, slotMs: { ...stats.idleSlotMs }, events: { ...stats.idleEvents } },
    rejections: { ...stats.rejections },
    tenants: rows,
  };
}

/** A tenant's classes; their entitlement splits the tenant's by class weight, limit and demand. */
function classRows<T>(t: TenantNode<T>, tenantShare: number, view: SnapshotView<T>, shareOf: (r: number) => number): ClassSnapshot[] {
  const leaves = [...t.leaves.values()];
  const demand = Math.min(t.held + t.queued, t.policy.limit);
  const split = maxMinShares(
    leaves.map((l) => ({ weight: l.policy.weight, reservation: 0, limit: l.policy.limit, demand: l.held + l.size })),
    demand,
  );
  return leaves.map(
    (l, i): ClassSnapshot => ({
      cls: l.name,
      weight: l.policy.weight,
      limit: l.policy.limit,
      lane: l.policy.lane,
      elastic: l.policy.elastic,
      queued: l.size,
      held: l.held,
      slotMs: l.slotMs,
      estimateMs: l.estimateMs,
      atLimit: l.size > 0 && (l.held >= l.policy.limit || l.cap.full),
      entitledShare: tenantShare * split[i]!,
      receivedShare: shareOf(l.recent.valueAt(view.at, view.shareWindowMs)),
      waitP99Ms: l.waits.quantile(0.99, view.at),
      rejections: { ...l.rejections },
    }),
  );
}

/** What one party asks of a slot budget: its weight, floor and ceiling, and how many slots it could use now. */
export interface Claim {
  weight: number;
  reservation: number;
  limit: number;
  demand: number;
}

/** Entitled shares of tenants with demand (held + queued slots); see maxMinShares. */
export function entitledShares<T>(tenants: readonly TenantNode<T>[], slots: number): number[] {
  return maxMinShares(
    tenants.map((t) => ({ weight: t.policy.weight, reservation: t.policy.reservation, limit: t.policy.limit, demand: t.held + t.queued })),
    slots,
  );
}

/**
 * Weighted max-min shares: each claim gets clamp(λ·w, min(reservation, demand), min(limit, demand)),
 * with λ chosen so the slots are used up; returned as fractions of what is handed out.
 * Reservations are floors, not additions, matching how the scheduler charges them.
 */
export function maxMinShares(claims: readonly Claim[], slots: number): number[] {
  const demand = claims.map((c) => Math.min(c.demand, c.limit));
  const floor = claims.map((c, i) => Math.min(c.reservation, demand[i]!));
  const alloc = (lambda: number): number[] => claims.map((c, i) => Math.min(demand[i]!, Math.max(floor[i]!, lambda * c.weight)));
  const sum = (xs: number[]): number => xs.reduce((a, b) => a + b, 0);
  const total = sum(demand);
  if (total === 0) return claims.map(() => 0);
  let shares = demand;
  if (total > slots) {
    let lo = 0;
    let hi = slots / claims.reduce((m, c) => Math.min(m, c.weight), Infinity);
    for (let i = 0; i < 60; i++) {
      const mid = (lo + hi) / 2;
      if (sum(alloc(mid)) > slots) hi = mid;
      else lo = mid;
    }
    shares = alloc(lo);
  }
  const used = sum(shares);
  return shares.map((s) => (used > 0 ? s / used : 0));
}
