// Runtime tenant settings (the admin API's): validated like the file's, layered over the file's snapshot.
import { ConfigError, formatIssues, smallestBudget } from './schema.js';
import { reservationProblem, tenantOf, tenantSchema } from './isolation-schema.js';
import type { SluiceConfig, TenantConfig } from './types.js';

/** The tenant whose settings apply to every tenant not listed, as `tenants.default` in the file. */
export const DEFAULT_TENANT = 'default';

/**
 * One tenant's settings in the file's shape (`tenants.<name>`: weight, reservation, limit, max_clients,
 * max_queue, queue_timeout in seconds, rate). Omitted fields take the file's defaults. Throws ConfigError
 * with one `field: reason` line per problem.
 */
export function parseTenantSettings(raw: unknown): TenantConfig {
  const r = tenantSchema.safeParse(raw);
  if (!r.success) throw new ConfigError(formatIssues(r.error.issues).map((l) => l.replace(/^config:/, 'body:')));
  const t = tenantOf(r.data);
  if (t.limit < t.reservation) throw new ConfigError([`limit: ${t.limit} is below its reservation ${t.reservation}`]);
  return t;
}

/** `base` with the overrides in place of (or next to) the file's tenants; throws ConfigError when reservations no longer fit. */
export function withTenantOverrides(base: SluiceConfig, overrides: ReadonlyMap<string, TenantConfig>): SluiceConfig {
  if (overrides.size === 0) return base;
  const iso = base.scheduler;
  const tenants = new Map(iso.tenants);
  let defaultTenant = iso.default_tenant;
  for (const [name, t] of overrides) {
    if (name === DEFAULT_TENANT) defaultTenant = t;
    else tenants.set(name, t);
  }
  const sizes = {
    databases: Object.fromEntries(base.databases),
    users: Object.fromEntries(base.users),
    max_server_connections: base.max_server_connections,
    default_pool_size: base.default_pool_size,
  };
  const problem = reservationProblem(tenants.values(), smallestBudget(sizes), iso.headroom);
  if (problem) throw new ConfigError([problem]);
  return Object.freeze({ ...base, scheduler: Object.freeze({ ...iso, default_tenant: defaultTenant, tenants }) });
}

/**
 * The file's snapshot plus the tenants changed at runtime. Overrides outlive file reloads (the file
 * stays as the operator wrote it) and end with the process, or when set to null.
 */
export class RuntimeTenants {
  private readonly overrides = new Map<string, TenantConfig>();

  constructor(private base: SluiceConfig) {}

  override(name: string): TenantConfig | undefined {
    return this.overrides.get(name);
  }

  /** The snapshot with `name` set to `t` (null: back to the file's); throws ConfigError, changing nothing, when it does not fit. */
  set(name: string, t: TenantConfig | null): SluiceConfig {
    const next = new Map(this.overrides);
    if (t) next.set(name, t);
    else next.delete(name);
    const config = withTenantOverrides(this.base, next);
    this.overrides.clear();
    for (const [k, v] of next) this.overrides.set(k, v);
    return config;
  }

  /**
   * A new file snapshot: the overrides go on top of it. If they no longer fit (the file lowered a budget,
   * say), the file wins and the overrides are dropped; the names dropped are returned for the log.
   */
  rebase(file: SluiceConfig): { config: SluiceConfig; dropped: string[] } {
    this.base = file;
    try {
      return { config: withTenantOverrides(file, this.overrides), dropped: [] };
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
      const dropped = [...this.overrides.keys()];
      this.overrides.clear();
      return { config: file, dropped };
    }
  }
}
