// Policy builders shared by the scheduler tests.
import type { ClassPolicy, SchedulerPolicy, TenantPolicy } from '../../../lib/scheduler/queue/policy.js';

export function tenant(p: Partial<TenantPolicy> = {}): TenantPolicy {
  return { weight: 1, reservation: 0, limit: Infinity, maxQueue: Infinity, queueTimeoutMs: 0, ...p };
}

export function klass(p: Partial<ClassPolicy> = {}): ClassPolicy {
  return { weight: 1, limit: Infinity, queueTimeoutMs: 0, elastic: false, lane: 'short', ...p };
}

export interface PolicyInput extends Partial<Omit<SchedulerPolicy, 'tenants' | 'classes'>> {
  tenants?: Record<string, Partial<TenantPolicy>>;
  classes?: Record<string, Partial<ClassPolicy>>;
}

export function policy(p: PolicyInput = {}): SchedulerPolicy {
  const { tenants = {}, classes = {}, ...rest } = p;
  return {
    slots: 20,
    headroom: { min: 0, max: 0 },
    burstSlotSeconds: 1,
    defaultTenant: tenant(),
    defaultCostMs: 10,
    ...rest,
    tenants: new Map(Object.entries(tenants).map(([k, v]) => [k, tenant(v)])),
    classes: new Map([['default', klass()], ...Object.entries(classes).map(([k, v]) => [k, klass(v)] as const)]),
  };
}
