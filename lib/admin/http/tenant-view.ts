// The JSON shape of a tenant in the HTTP API: its settings as in the config file, where they come from, and its live queues.
import type { SluiceConfig, TenantConfig } from '../../config/types.js';
import { DEFAULT_TENANT } from '../../config/tenant-overrides.js';
import type { SchedulerSnapshot, TenantSnapshot } from '../../scheduler/queue/queue-types.js';

/** `api`: set through PUT /tenants/:id; `file`: listed in the config file; `default`: unlisted, so `tenants.default` applies. */
export type TenantSource = 'api' | 'file' | 'default';

export interface TenantSettingsJson {
  weight: number;
  reservation: number;
  limit: number | null;
  max_clients: number | null;
  max_queue: number | null;
  /** Seconds; 0 means query_wait_timeout. */
  queue_timeout: number;
  rate: { per_second: number; burst: number; mode: 'wait' | 'reject' } | null;
}

export interface TenantJson {
  name: string;
  source: TenantSource;
  settings: TenantSettingsJson;
  /** One entry per slot budget (database, or pool) the tenant has used since it was last idle for long. */
  budgets: Array<{
    budget: string;
    queued: number;
    held: number;
    slot_seconds: number;
    entitled_share: number;
    received_share: number;
    blocked: 'limit' | 'rate' | null;
    rejections: TenantSnapshot['rejections'];
    classes: Array<{ class: string; queued: number; held: number; slot_seconds: number }>;
  }>;
}

/** What a view needs to know about overrides: the pooler's RuntimeTenants fits. */
export interface OverrideLookup {
  override(name: string): TenantConfig | undefined;
}

const finite = (n: number): number | null => (Number.isFinite(n) ? n : null);

/** The same units and spelling as the config file: seconds, and null for "none". */
export function settingsJson(t: TenantConfig): TenantSettingsJson {
  return {
    weight: t.weight,
    reservation: t.reservation,
    limit: finite(t.limit),
    max_clients: finite(t.max_clients),
    max_queue: finite(t.max_queue),
    queue_timeout: t.queue_timeout / 1000,
    rate: t.rate ? { per_second: t.rate.per_second, burst: t.rate.burst, mode: t.rate.mode } : null,
  };
}

/** Snapshot rows by tenant name, each with its budget: one pass over every budget. */
export function indexSnapshots(snapshots: ReadonlyMap<string, SchedulerSnapshot>): Map<string, Array<[string, TenantSnapshot]>> {
  const out = new Map<string, Array<[string, TenantSnapshot]>>();
  for (const [budget, s] of snapshots) {
    for (const t of s.tenants) {
      const rows = out.get(t.tenant);
      if (rows) rows.push([budget, t]);
      else out.set(t.tenant, [[budget, t]]);
    }
  }
  return out;
}

export function tenantJson(
  name: string,
  config: SluiceConfig,
  overrides: OverrideLookup,
  rows: Array<[string, TenantSnapshot]>,
): TenantJson {
  const iso = config.scheduler;
  const listed = name === DEFAULT_TENANT || iso.tenants.has(name);
  const settings = name === DEFAULT_TENANT ? iso.default_tenant : (iso.tenants.get(name) ?? iso.default_tenant);
  return {
    name,
    source: overrides.override(name) ? 'api' : listed ? 'file' : 'default',
    settings: settingsJson(settings),
    budgets: rows.map(([budget, t]) => ({
      budget,
      queued: t.queued,
      held: t.held,
      slot_seconds: t.slotMs / 1000,
      entitled_share: t.entitledShare,
      received_share: t.receivedShare,
      blocked: t.blocked,
      rejections: t.rejections,
      classes: t.classes.map((c) => ({ class: c.cls, queued: c.queued, held: c.held, slot_seconds: c.slotMs / 1000 })),
    })),
  };
}

/** Every tenant worth showing: `default`, those listed in the configuration, and those the scheduler knows. */
export function tenantNames(config: SluiceConfig, index: ReadonlyMap<string, unknown>): string[] {
  return [...new Set([DEFAULT_TENANT, ...config.scheduler.tenants.keys(), ...index.keys()])].sort();
}
