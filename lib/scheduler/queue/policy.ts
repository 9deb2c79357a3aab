// Scheduler policy types (tenant and class knobs), their lookup rules and validation.

export interface RatePolicy {
  /** Transactions per second refilled into the bucket. */
  perSecond: number;
  /** Bucket size: how many transactions may start back to back. */
  burst: number;
  /** 'wait': dispatch only with a token (queued work waits); 'reject': refuse the enqueue without a token. */
  mode: 'wait' | 'reject';
}

export interface TenantPolicy {
  weight: number;
  /** Guaranteed concurrency floor in slots (with demand, the tenant holds at least min(demand, reservation)). */
  reservation: number;
  /** Hard concurrency ceiling in slots; Infinity = none. 0 refuses every enqueue with reason 'limit'. */
  limit: number;
  /** Queued transactions allowed for the tenant; Infinity = none. */
  maxQueue: number;
  /** Queue wait timeout in ms; 0 or Infinity = none. The effective timeout is the smaller of tenant and class. */
  queueTimeoutMs: number;
  rate?: RatePolicy;
}

export interface ClassPolicy {
  weight: number;
  /** Per-tenant concurrency ceiling for this class; Infinity = none. */
  limit: number;
  queueTimeoutMs: number;
  /** Elastic classes only use the slots the adaptive limit grants (CPU protection). */
  elastic: boolean;
  /** Long-lane (and elastic) work may not take the headroom slots. */
  lane: 'short' | 'long';
  /** Cap on this class's slots across all tenants of the budget (e.g. one migration at a time); default none. */
  totalLimit?: number;
}

export interface SchedulerPolicy {
  /** The slot budget N. */
  slots: number;
  /** Slots kept for short-lane work and tenants below reservation. */
  headroom: { min: number; max: number };
  /**
   * When no short-lane work has queued for this long (ms), the headroom is not kept for it (a deficit of
   * reservations still is): long-only work then uses every slot. 0 or absent: always kept.
   */
  headroomFadeMs?: number;
  /** Reactivation clamp allowance B: a returning tenant may run at most B slot-seconds ahead of its share. */
  burstSlotSeconds: number;
  /** Policy for tenants not listed in `tenants`. */
  defaultTenant: TenantPolicy;
  tenants: ReadonlyMap<string, TenantPolicy>;
  /** Class policies shared by all tenants; an unknown class uses the 'default' class. */
  classes: ReadonlyMap<string, ClassPolicy>;
  /** Initial hold-time estimate (ms) for a new (tenant, class) leaf. */
  defaultCostMs: number;
  /** Refuse at enqueue when the work ahead, at its estimated cost and the tenant's share, outlasts the timeout. */
  earlyReject?: boolean;
}

export const DEFAULT_CLASS = 'default';

/** Used when the policy has no 'default' class: ordinary short-lane work without caps. */
export const BUILTIN_DEFAULT_CLASS: ClassPolicy = Object.freeze({
  weight: 1,
  limit: Infinity,
  queueTimeoutMs: 0,
  elastic: false,
  lane: 'short' as const,
});

export class PolicyError extends Error {
  constructor(readonly problems: readonly string[]) {
    super(`invalid scheduler policy: ${problems.join('; ')}`);
    this.name = 'PolicyError';
  }
}

export function tenantPolicyOf(policy: SchedulerPolicy, tenant: string): TenantPolicy {
  return policy.tenants.get(tenant) ?? policy.defaultTenant;
}

/** Unknown classes share one leaf per tenant, which keeps the number of leaves bounded by the config. */
export function resolveClassName(policy: SchedulerPolicy, cls: string): string {
  return policy.classes.has(cls) ? cls : DEFAULT_CLASS;
}

export function classPolicyOf(policy: SchedulerPolicy, cls: string): ClassPolicy {
  return policy.classes.get(cls) ?? policy.classes.get(DEFAULT_CLASS) ?? BUILTIN_DEFAULT_CLASS;
}

/** The effective queue timeout in ms: the smaller positive finite one of tenant and class, else Infinity. */
export function queueTimeoutOf(tenant: TenantPolicy, cls: ClassPolicy): number {
  const bound = (ms: number): number => (ms > 0 && Number.isFinite(ms) ? ms : Infinity);
  return Math.min(bound(tenant.queueTimeoutMs), bound(cls.queueTimeoutMs));
}

/** Long-lane and elastic work must leave the headroom free. */
export function usesHeadroomRule(cls: ClassPolicy): boolean {
  return cls.lane === 'long' || cls.elastic;
}

const isCount = (n: number): boolean => Number.isInteger(n) && n >= 0;
const isCap = (n: number): boolean => n === Infinity || isCount(n);
const isPositive = (n: number): boolean => Number.isFinite(n) && n > 0;
const isDuration = (n: number): boolean => n === Infinity || (Number.isFinite(n) && n >= 0);

function tenantProblems(name: string, t: TenantPolicy): string[] {
  const out: string[] = [];
  if (!isPositive(t.weight)) out.push(`${name}: weight must be > 0`);
  if (!isCount(t.reservation)) out.push(`${name}: reservation must be an integer >= 0`);
  if (!isCap(t.limit)) out.push(`${name}: limit must be an integer >= 0 or Infinity`);
  else if (t.limit < t.reservation) out.push(`${name}: limit must be >= reservation`);
  if (!isCap(t.maxQueue)) out.push(`${name}: maxQueue must be an integer >= 0 or Infinity`);
  if (!isDuration(t.queueTimeoutMs)) out.push(`${name}: queueTimeoutMs must be >= 0`);
  if (t.rate) {
    if (!isPositive(t.rate.perSecond)) out.push(`${name}: rate.perSecond must be > 0`);
    if (!(Number.isFinite(t.rate.burst) && t.rate.burst >= 1)) out.push(`${name}: rate.burst must be >= 1`);
    if (t.rate.mode !== 'wait' && t.rate.mode !== 'reject') out.push(`${name}: rate.mode must be wait or reject`);
  }
  return out;
}

function classProblems(name: string, c: ClassPolicy): string[] {
  const out: string[] = [];
  if (!isPositive(c.weight)) out.push(`class ${name}: weight must be > 0`);
  if (!isCap(c.limit)) out.push(`class ${name}: limit must be an integer >= 0 or Infinity`);
  if (c.totalLimit !== undefined && !isCap(c.totalLimit)) out.push(`class ${name}: totalLimit must be an integer >= 0 or Infinity`);
  if (!isDuration(c.queueTimeoutMs)) out.push(`class ${name}: queueTimeoutMs must be >= 0`);
  if (c.lane !== 'short' && c.lane !== 'long') out.push(`class ${name}: lane must be short or long`);
  return out;
}

/** Every problem found, empty when the policy is usable. */
export function policyProblems(policy: SchedulerPolicy): string[] {
  const out: string[] = [];
  const { slots, headroom } = policy;
  if (!(Number.isInteger(slots) && slots >= 1)) out.push('slots must be an integer >= 1');
  if (!isCount(headroom.min) || !isCount(headroom.max) || headroom.min > headroom.max) {
    out.push('headroom needs integers 0 <= min <= max');
  } else if (headroom.max >= slots && headroom.max > 0) {
    out.push('headroom.max must be < slots (long-lane work could never run)');
  }
  if (!(Number.isFinite(policy.burstSlotSeconds) && policy.burstSlotSeconds >= 0)) {
    out.push('burstSlotSeconds must be >= 0');
  }
  if (!isPositive(policy.defaultCostMs)) out.push('defaultCostMs must be > 0');
  out.push(...tenantProblems('defaultTenant', policy.defaultTenant));
  let reserved = 0;
  for (const [name, t] of policy.tenants) {
    out.push(...tenantProblems(`tenant ${name}`, t));
    reserved += t.reservation;
  }
  // mClock's guarantee only holds if the reservations fit; the short lane keeps headroom.min for itself.
  if (reserved > slots - headroom.min) out.push(`sum of reservations ${reserved} exceeds slots - headroom.min`);
  for (const [name, c] of policy.classes) out.push(...classProblems(name, c));
  return out;
}

export function assertValidPolicy(policy: SchedulerPolicy): void {
  const problems = policyProblems(policy);
  if (problems.length > 0) throw new PolicyError(problems);
}
