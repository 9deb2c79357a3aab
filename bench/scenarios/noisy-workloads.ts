// Owns the noisy-neighbour variants: who runs what, and the Sluice isolation settings each runs under.
import type { Role } from '../targets/bench-postgres.js';
import { DEFAULT_POOL, type PoolSetup } from '../targets/target.js';

export type NoisyVariant =
  | 'slot-hog'
  | 'cpu-hog'
  | 'cpu-hog-untagged'
  | 'slot-hog-defaults'
  | 'cpu-hog-idle'
  | 'cpu-hog-idle-off'
  | 'shares'
  | 'victim-idle'
  | 'overload';

/** The victim: open loop at a fixed rate (pgbench -R), pgbench select-only, latency from the scheduled start. */
export const VICTIM = { role: 'victim' as Role, clients: 8, rate: 200 };

/** A closed-loop pgbench tenant. */
export interface ClosedLoad {
  role: Role;
  clients: number;
  script: string;
  weight?: number;
}

/** An open-loop tenant from the overload generator (pgbench clients would abort at the first rejection). */
export interface OpenLoad {
  role: Role;
  /** Arrivals per second. */
  rate: number;
  connections: number;
  sql: string;
}

export interface NoisyPlan {
  variant: NoisyVariant;
  title: string;
  victim: boolean;
  loads: ClosedLoad[];
  open?: OpenLoad;
  /** Compare shares of these roles with their weights. */
  shares?: boolean;
  /** Runs under Sluice's defaults (plus tenants): the victim's I99 is against its alone run under defaults. */
  defaults?: boolean;
  setup: PoolSetup;
}

const SLOT_HOG_SQL = 'SELECT pg_sleep(0.05);';
const HOLD_S = 0.05;
/** One backend's CPU for ~0.1-0.3 s: a full scan with per-row work (parallel workers are off). */
export const CPU_HOG_SQL = 'SELECT sum(abalance + hashint4(aid)) FROM pgbench_accounts;';
const SHARE_SQL = 'SELECT pg_sleep(0.01);';
/** Untagged, one backend's CPU for about 0.1 s on a quiet core (no table, so no cache effects); nothing names it. */
export const UNTAGGED_CPU_SQL = 'SELECT count(*) FROM generate_series(1, 1000000);';
/** The issue-16 hog: 40 clients, more than the budget, so a plain pooler runs 20 of them at once. */
const UNTAGGED_CLIENTS = 40;

/** Sluice's base: fair scheduling by login role, headroom 2 as in the isolation notes' testbed. */
const BASE_SLUICE = { scheduler: { mode: 'fair', headroom_min: 2, headroom_max: 4 }, tenant_key: 'user' };

function setup(sluice: Record<string, unknown> = BASE_SLUICE): PoolSetup {
  return { ...DEFAULT_POOL, queryWaitTimeoutS: 10, sluice };
}

/** The victim's baseline runs alone under the base setup. */
export const ALONE_SETUP = setup();

/** Issue 16: what a new user writes. Three tenants of equal weight, `scheduler: {mode: fair}`, nothing else. */
const DEFAULT_TENANTS = { victim: { weight: 1 }, noisy: { weight: 1 }, tenant_a: { weight: 1 } };
const DEFAULTS_SLUICE = { scheduler: { mode: 'fair' }, tenants: DEFAULT_TENANTS };
/** The same with every zero-config isolation piece turned off: Sluice's behaviour before issue 16. */
const PIECES_OFF_SLUICE = { scheduler: { mode: 'fair', long_threshold: 0, adaptive_limit: false }, tenants: DEFAULT_TENANTS };
/** The victim's baseline under defaults (plain `victim alone` keeps the base setup of the older rows). */
export const DEFAULTS_ALONE_SETUP = setup(DEFAULTS_SLUICE);
/** The third equal-weight tenant: a steady slot user with no CPU to speak of. */
const THIRD_TENANT: ClosedLoad = { role: 'tenant_a', clients: 4, script: SHARE_SQL };

export const SHARE_TENANTS: ClosedLoad[] = [
  { role: 'tenant_a', clients: 30, script: SHARE_SQL, weight: 1 },
  { role: 'tenant_b', clients: 30, script: SHARE_SQL, weight: 2 },
  { role: 'tenant_c', clients: 30, script: SHARE_SQL, weight: 4 },
];

/** 10× what the budget can serve: budget / hold time transactions per second. */
const OVERLOAD_RATE = Math.round((10 * DEFAULT_POOL.budget) / HOLD_S);

export const NOISY_PLANS: NoisyPlan[] = [
  {
    variant: 'slot-hog',
    title: 'slot hog: 100 clients of pg_sleep(0.05)',
    victim: true,
    loads: [{ role: 'noisy', clients: 100, script: SLOT_HOG_SQL }],
    setup: setup(),
  },
  {
    variant: 'cpu-hog',
    title: 'CPU hog: 20 clients of a full-table scan, an elastic class (adaptive limit on)',
    victim: true,
    loads: [{ role: 'noisy', clients: 20, script: CPU_HOG_SQL }],
    setup: setup({
      ...BASE_SLUICE,
      scheduler: { ...BASE_SLUICE.scheduler, adaptive_limit: true },
      classes: { analytics: { elastic: true } },
      class_rules: [{ user: 'noisy', class: 'analytics' }],
    }),
  },
  {
    variant: 'cpu-hog-untagged',
    title: `defaults: ${UNTAGGED_CLIENTS} clients of an untagged ~0.1 s CPU query (no classes, no rules), a third tenant of 4 pg_sleep(0.01) clients`,
    victim: true,
    defaults: true,
    loads: [{ role: 'noisy', clients: UNTAGGED_CLIENTS, script: UNTAGGED_CPU_SQL }, THIRD_TENANT],
    setup: setup(DEFAULTS_SLUICE),
  },
  {
    variant: 'slot-hog-defaults',
    title: 'defaults: the slot hog (100 clients of pg_sleep(0.05)) and the third tenant',
    victim: true,
    defaults: true,
    loads: [{ role: 'noisy', clients: 100, script: SLOT_HOG_SQL }, THIRD_TENANT],
    setup: setup(DEFAULTS_SLUICE),
  },
  {
    variant: 'cpu-hog-idle',
    title: 'defaults, victim idle: the untagged CPU hog alone (work conservation)',
    victim: false,
    defaults: true,
    loads: [{ role: 'noisy', clients: UNTAGGED_CLIENTS, script: UNTAGGED_CPU_SQL }],
    setup: setup(DEFAULTS_SLUICE),
  },
  {
    variant: 'cpu-hog-idle-off',
    title: 'long_threshold 0, adaptive_limit false, victim idle: the untagged CPU hog alone as before issue 16',
    victim: false,
    defaults: true,
    loads: [{ role: 'noisy', clients: UNTAGGED_CLIENTS, script: UNTAGGED_CPU_SQL }],
    setup: setup(PIECES_OFF_SLUICE),
  },
  {
    variant: 'shares',
    title: 'weighted shares 1:2:4, three tenants of 30 clients of pg_sleep(0.01)',
    victim: false,
    loads: SHARE_TENANTS,
    shares: true,
    setup: setup({
      ...BASE_SLUICE,
      tenants: Object.fromEntries(SHARE_TENANTS.map((t) => [t.role, { weight: t.weight }])),
    }),
  },
  {
    variant: 'victim-idle',
    title: 'victim idle: the slot hog alone (work conservation)',
    victim: false,
    loads: [{ role: 'noisy', clients: 100, script: SLOT_HOG_SQL }],
    setup: setup(),
  },
  {
    variant: 'overload',
    title: `10× overload: ${OVERLOAD_RATE} pg_sleep(0.05)/s offered for a budget that serves ${OVERLOAD_RATE / 10}/s`,
    victim: true,
    loads: [],
    open: { role: 'noisy', rate: OVERLOAD_RATE, connections: 300, sql: SLOT_HOG_SQL },
    // A bounded queue is how Sluice turns overload into fast rejections; PgBouncer has no equivalent.
    setup: setup({ ...BASE_SLUICE, tenants: { noisy: { max_queue: 2 * DEFAULT_POOL.budget } } }),
  },
];
