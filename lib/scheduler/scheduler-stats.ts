// Observability for the slot queues: idle-slot accounting by reason, rejection counters and snapshot building.
import { zeroCounts, type TenantNode } from './scheduler-nodes.js';
import type {
  ClassSnapshot,
  IdleReason,
  RejectReason,
  RejectionCounts,
  SchedulerSnapshot,
  TenantSnapshot,
} from './scheduler-types.js';

const zeroIdle = (): Record<IdleReason, number> => ({ limit: 0, rate: 0, headroom: 0, elastic: 0 });

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

  /** Any state change ends the idle interval; the caller's next next() re-establishes it. */
  close(now: number): void {
    if (this.reason === null) return;
    this.idleSlotMs[this.reason] += Math.max(0, now - this.idleSince) * this.idleFree;
    this.reason = null;
  }

  countRejection(reason: RejectReason, tenant: { rejections: RejectionCounts } | null): void {
    this.rejections[reason]++;
    if (tenant) tenant.rejections[reason]++;
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
  const rows: TenantSnapshot[] = tenants.map((t, i) => ({
    tenant: t.name,
    weight: t.policy.weight,
    reservation: t.policy.reservation,
    limit: t.policy.limit,
    queued: t.queued,
    held: t.held,
    slotMs: t.slotMs,
    entitledShare: entitled[i]!,
    receivedShare: recentTotal > 0 ? recent[i]! / recentTotal : 0,
    blocked: t.queued === 0 ? null : t.rateParked ? 'rate' : t.held >= t.policy.limit ? 'limit' : null,
    rejections: { ...t.rejections },
    classes: [...t.leaves.values()].map(
      (l): ClassSnapshot => ({
        cls: l.name,
        lane: l.policy.lane,
        elastic: l.policy.elastic,
        queued: l.size,
        held: l.held,
        slotMs: l.slotMs,
        estimateMs: l.estimateMs,
        atLimit: l.size > 0 && (l.held >= l.policy.limit || l.cap.full),
      }),
    ),
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

/**
 * Weighted max-min shares among tenants with demand (held + queued slots): each gets
 * clamp(λ·w, min(reservation, demand), min(limit, demand)), with λ chosen so the slots are used up.
 * Reservations are floors, not additions, matching how the scheduler charges them.
 */
export function entitledShares<T>(tenants: readonly TenantNode<T>[], slots: number): number[] {
  const demand = tenants.map((t) => Math.min(t.held + t.queued, t.policy.limit));
  const floor = tenants.map((t, i) => Math.min(t.policy.reservation, demand[i]!));
  const alloc = (lambda: number): number[] =>
    tenants.map((t, i) => Math.min(demand[i]!, Math.max(floor[i]!, lambda * t.policy.weight)));
  const sum = (xs: number[]): number => xs.reduce((a, b) => a + b, 0);
  const total = sum(demand);
  if (total === 0) return tenants.map(() => 0);
  let shares = demand;
  if (total > slots) {
    let lo = 0;
    let hi = slots / tenants.reduce((m, t) => Math.min(m, t.policy.weight), Infinity);
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
