// Owns the importer's working draft and its shared helpers: issue records, reasons from the settings table, paths.
import { isAbsolute, resolve as resolvePath } from 'node:path';
import type { SettingInfo } from './pgbouncer-settings.js';

/** One setting that did not carry over as it was, and why. */
export interface ImportIssue {
  /** `name` for [pgbouncer], `[databases] app: host` and the like for the other sections. */
  readonly setting: string;
  readonly reason: string;
}

/** The draft the section importers fill in. */
export interface ImportDraft {
  readonly top: Record<string, unknown>;
  readonly clientTls: Record<string, string>;
  readonly serverTls: Record<string, string>;
  readonly databases: Record<string, Record<string, unknown>>;
  readonly users: Record<string, Record<string, unknown>>;
  /** Per-user max_user_connections / max_user_client_connections from [users]. */
  readonly userLimits: Map<string, { limit?: number; max_clients?: number }>;
  readonly globalLimits: { limit?: number; max_clients?: number };
  readonly unsupported: ImportIssue[];
  readonly notes: ImportIssue[];
  readonly cwd: string;
}

/** Why a setting is not carried over, in the words of the settings table. */
export function reasonOf(info: SettingInfo): string {
  return info.status === 'planned' ? `planned: ${info.note}` : `not supported: ${info.note}`;
}

/** A value PgBouncer itself would not take. */
export function invalid(d: ImportDraft, setting: string, value: string, expected: string): void {
  d.unsupported.push({ setting, reason: `invalid value ${JSON.stringify(value)} (expected ${expected}); PgBouncer would refuse it too` });
}

/** A path as PgBouncer meant it: relative to its working directory, so made absolute for the YAML file. */
export function absolutePath(d: ImportDraft, path: string): string {
  return isAbsolute(path) ? path : resolvePath(d.cwd, path);
}
