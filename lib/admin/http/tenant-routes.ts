// The /tenants endpoints: list, show, set (validated like the config file, applied live) and remove runtime settings.
import { ConfigError } from '../../config/schema.js';
import { parseTenantSettings } from '../../config/tenant-overrides.js';
import type { SluiceConfig, TenantConfig } from '../../config/types.js';
import { httpError } from '../../errors.js';
import type { Logger } from '../../log.js';
import type { SchedulerSnapshot } from '../../scheduler/queue/queue-types.js';
import { indexSnapshots, settingsJson, tenantJson, tenantNames, type OverrideLookup, type TenantJson } from './tenant-view.js';

/** What the tenant endpoints read and change; the composition root supplies it. */
export interface TenantDirectory {
  /** The configuration in force: the file's, with the runtime tenant settings applied. */
  config(): SluiceConfig;
  readonly overrides: OverrideLookup;
  snapshots(): ReadonlyMap<string, SchedulerSnapshot>;
  /** Sets a tenant's runtime settings (null: removes them) and applies them to the scheduler; throws ConfigError when they do not fit. */
  setTenant(name: string, t: TenantConfig | null): void;
  readonly log: Logger;
}

export function listTenants(dir: TenantDirectory): { tenants: TenantJson[] } {
  const config = dir.config();
  const index = indexSnapshots(dir.snapshots());
  return { tenants: tenantNames(config, index).map((name) => tenantJson(name, config, dir.overrides, index.get(name) ?? [])) };
}

export function getTenant(dir: TenantDirectory, name: string): TenantJson {
  const config = dir.config();
  const index = indexSnapshots(dir.snapshots());
  if (!tenantNames(config, index).includes(name)) throw httpError('SLUICE_HTTP_UNKNOWN_TENANT', { tenant: name });
  return tenantJson(name, config, dir.overrides, index.get(name) ?? []);
}

/** PUT replaces: fields left out take the file format's defaults, exactly as an entry in `tenants` would. */
export function putTenant(dir: TenantDirectory, name: string, body: unknown): TenantJson {
  let t: TenantConfig;
  try {
    t = parseTenantSettings(body);
    dir.setTenant(name, t);
  } catch (err) {
    throw refused(err, name);
  }
  dir.log.info({ tenant: name, settings: settingsJson(t) }, 'tenant settings set through the admin API');
  return getTenant(dir, name);
}

/** DELETE removes the runtime settings: the tenant goes back to its file settings (or `tenants.default`). */
export function deleteTenant(dir: TenantDirectory, name: string): TenantJson {
  if (!dir.overrides.override(name)) throw httpError('SLUICE_HTTP_NO_OVERRIDE', { tenant: name });
  try {
    dir.setTenant(name, null);
  } catch (err) {
    throw refused(err, name);
  }
  dir.log.info({ tenant: name }, 'tenant settings made through the admin API removed');
  const config = dir.config();
  return tenantJson(name, config, dir.overrides, indexSnapshots(dir.snapshots()).get(name) ?? []);
}

function refused(err: unknown, tenant: string): unknown {
  return err instanceof ConfigError ? httpError('SLUICE_HTTP_INVALID_TENANT', { tenant }, err.problems) : err;
}
