// The YAML of workload isolation (scheduler, tenants, classes, rules) and its translation into the snapshot.
import { z } from 'zod';
import type { ClassConfig, ClassRule, IsolationConfig, TenantConfig } from './types.js';
import { expecting, flag, integer, namedSections, oneOf, seconds, section, text } from './fields.js';

const unlimited = (what: string) => {
  const error = expecting(`${what} (an integer >= 0, or null for none)`);
  return z
    .union([z.number({ error }).int({ error }).min(0, { error }), z.null({ error })], { error })
    .transform((v) => (v === null ? Infinity : v));
};

/** The class the learned lane moves slow statements into. */
export const LONG_CLASS = 'long';

const positive = (what: string) => z.number({ error: expecting(what) }).positive({ error: expecting(what) });

const regex = z.string({ error: expecting('a regular expression') }).transform((src, ctx) => {
  try {
    return new RegExp(src);
  } catch (err) {
    ctx.addIssue({ code: 'custom', message: `invalid regular expression: ${(err as Error).message}` });
    return z.NEVER;
  }
});

export const tenantSchema = section({
  weight: positive('a weight > 0').default(1),
  reservation: integer(0).default(0),
  limit: unlimited('a slot limit').default(Infinity),
  max_clients: unlimited('a client limit').default(Infinity),
  max_queue: unlimited('a queue depth').default(Infinity),
  queue_timeout: seconds(0),
  rate: section({
    per_second: positive('transactions per second > 0'),
    // The token bucket needs room for one whole transaction; the scheduler refuses a smaller burst.
    burst: z
      .number({ error: expecting('a burst >= 1') })
      .min(1, { error: expecting('a burst >= 1') })
      .default(1),
    mode: oneOf(['wait', 'reject']).default('wait'),
  }).optional(),
});

const classSchema = section({
  weight: positive('a weight > 0').default(1),
  limit: unlimited('a slot limit').default(Infinity),
  queue_timeout: seconds(0),
  elastic: flag(false),
  lane: oneOf(['short', 'long']).default('short'),
  total_limit: unlimited('a slot limit').default(Infinity),
});

const ruleSchema = section({
  application_name: regex.optional(),
  user: text().optional(),
  database: text().optional(),
  class: text(),
});

export const isolationShape = {
  max_server_connections: integer(1).optional(),
  scheduler: section({
    mode: oneOf(['fair', 'fifo', 'shadow']).default('fair'),
    headroom_min: integer(0).default(1),
    headroom_max: integer(0).default(2),
    burst: z
      .number({ error: expecting('slot-seconds >= 0') })
      .min(0)
      .default(1),
    default_cost: seconds(10),
    // Issue 16: on by default, so an untagged CPU hog is isolated with no class rules (docs/isolation.md, "Defaults").
    long_threshold: seconds(250),
    long_elastic: flag(true),
    headroom_fade: seconds(1000),
    early_reject: flag(true),
    adaptive_limit: flag(true),
    adaptive_min_slots: integer(0).default(1),
  }).prefault({}),
  tenant_key: oneOf(['user', 'database', 'application_name', 'option']).default('user'),
  tenant_pattern: regex.optional(),
  tenant_option: text().default('sluice.tenant'),
  tenants: namedSections(tenantSchema, 'tenant').default({}),
  classes: namedSections(classSchema, 'class').default({}),
  class_rules: z.array(ruleSchema, { error: expecting('a list of rules') }).default([]),
};

type Raw = z.output<z.ZodObject<typeof isolationShape>>;

export function tenantOf(t: z.output<typeof tenantSchema>): TenantConfig {
  return Object.freeze({ ...t, rate: t.rate && Object.freeze({ ...t.rate }) });
}

/**
 * The headroom a budget of `slots` really keeps: at most a quarter of the slots, so small pools
 * (PgBouncer users run pools of 1 or 2) keep every slot usable by any class.
 */
export function effectiveHeadroom(h: { min: number; max: number }, slots: number): { min: number; max: number } {
  const max = Math.min(h.max, Math.floor(slots / 4));
  return { min: Math.min(h.min, max), max };
}

/** Reservations must fit the smallest budget minus its headroom_min; the problem line when they do not. */
export function reservationProblem(
  tenants: Iterable<TenantConfig>,
  smallestBudget: { name: string; slots: number } | null,
  headroom: { min: number; max: number },
): string | null {
  if (!smallestBudget) return null;
  let reserved = 0;
  for (const t of tenants) reserved += t.reservation;
  const h = effectiveHeadroom(headroom, smallestBudget.slots);
  if (reserved <= smallestBudget.slots - h.min) return null;
  return `tenants: reservations add up to ${reserved} slots, more than ${smallestBudget.name}'s budget of ${smallestBudget.slots} minus headroom_min ${h.min}`;
}

/** Builds the isolation snapshot; budgets are the smallest database budget, for the reservation check. */
export function buildIsolation(raw: Raw, smallestBudget: { name: string; slots: number } | null, problems: string[]): IsolationConfig {
  const s = raw.scheduler;
  if (s.headroom_min > s.headroom_max)
    problems.push(`scheduler.headroom_min: ${s.headroom_min} is more than headroom_max ${s.headroom_max}`);
  // Every dispatch charges this estimate; 0 would let a new tenant's transactions cost nothing.
  if (s.default_cost <= 0) problems.push('scheduler.default_cost: expected seconds > 0, got 0');
  const { default: defaultRaw, ...named } = raw.tenants;
  const tenants = new Map(Object.entries(named).map(([k, v]) => [k, tenantOf(v)]));
  for (const [name, t] of tenants) {
    if (t.limit < t.reservation) problems.push(`tenants.${name}.limit: ${t.limit} is below its reservation ${t.reservation}`);
  }
  const tooMuch = reservationProblem(tenants.values(), smallestBudget, { min: s.headroom_min, max: s.headroom_max });
  if (tooMuch) problems.push(tooMuch);
  const classes = new Map<string, ClassConfig>(Object.entries(raw.classes).map(([k, v]) => [k, Object.freeze({ ...v })]));
  // The learned lane needs somewhere to go: a long-lane class (elastic unless long_elastic is off) unless the operator defined one.
  if (s.long_threshold > 0 && !classes.has(LONG_CLASS))
    classes.set(LONG_CLASS, Object.freeze({ ...classSchema.parse({}), lane: 'long' as const, elastic: s.long_elastic }));
  for (const [i, r] of raw.class_rules.entries()) {
    if (!classes.has(r.class) && r.class !== 'default') problems.push(`class_rules[${i}].class: "${r.class}" is not defined in classes`);
  }
  if (raw.tenant_key === 'application_name' && !raw.tenant_pattern) {
    // Without a pattern the whole application_name names the tenant; that is allowed.
  }
  return Object.freeze({
    mode: s.mode,
    headroom: Object.freeze({ min: s.headroom_min, max: s.headroom_max }),
    headroom_fade: s.headroom_fade,
    burst_slot_seconds: s.burst,
    default_cost: s.default_cost,
    long_threshold: s.long_threshold,
    early_reject: s.early_reject,
    adaptive: Object.freeze({ enabled: s.adaptive_limit, min_slots: s.adaptive_min_slots }),
    tenant_key: raw.tenant_key,
    tenant_pattern: raw.tenant_pattern,
    tenant_option: raw.tenant_option,
    default_tenant: tenantOf(defaultRaw ?? tenantSchema.parse({})),
    tenants,
    classes,
    class_rules: Object.freeze(raw.class_rules.map((r) => Object.freeze({ ...r }) as ClassRule)),
  });
}
