// Translates the config snapshot into one database's scheduler policy: its slots, tenants and classes.
import type { ClassConfig, SluiceConfig, TenantConfig } from '../config/types.js';
import { effectiveHeadroom } from '../config/isolation-schema.js';
import type { ClassPolicy, SchedulerPolicy, TenantPolicy } from './queue/policy.js';
import type { BudgetPolicy } from './budget.js';

function tenantPolicy(t: TenantConfig, queryWaitMs: number): TenantPolicy {
  return {
    weight: t.weight,
    reservation: t.reservation,
    limit: t.limit,
    maxQueue: t.max_queue,
    // A tenant without its own timeout waits as long as query_wait_timeout allows (0: forever).
    queueTimeoutMs: t.queue_timeout || queryWaitMs,
    rate: t.rate && { perSecond: t.rate.per_second, burst: t.rate.burst, mode: t.rate.mode },
  };
}

function classPolicy(k: ClassConfig): ClassPolicy {
  return { weight: k.weight, limit: k.limit, queueTimeoutMs: k.queue_timeout, elastic: k.elastic, lane: k.lane, totalLimit: k.total_limit };
}

export function budgetPolicy(c: SluiceConfig, slots: number): BudgetPolicy {
  const iso = c.scheduler;
  const tenants = new Map<string, TenantPolicy>();
  for (const [name, t] of iso.tenants) tenants.set(name, tenantPolicy(t, c.query_wait_timeout));
  const classes = new Map<string, ClassPolicy>();
  for (const [name, k] of iso.classes) classes.set(name, classPolicy(k));
  const policy: SchedulerPolicy = {
    slots,
    headroom: effectiveHeadroom(iso.headroom, slots),
    headroomFadeMs: iso.headroom_fade,
    burstSlotSeconds: iso.burst_slot_seconds,
    defaultTenant: tenantPolicy(iso.default_tenant, c.query_wait_timeout),
    tenants,
    classes,
    defaultCostMs: iso.default_cost,
    earlyReject: iso.early_reject,
  };
  return { mode: iso.mode, policy, adaptive: iso.adaptive.enabled ? { min: iso.adaptive.min_slots } : null };
}
