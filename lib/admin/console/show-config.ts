// SHOW CONFIG: the settings in force as key, value, default, changeable, in YAML units; secrets are never shown.
import { DEFAULTS } from '../../config/schema.js';
import type { SluiceConfig } from '../../config/types.js';
import type { AdminHost } from '../admin-host.js';
import { columns, type Cell, type ResultSet } from './result-set.js';

export const CONFIG_COLUMNS = columns({ key: 'text', value: 'text', default: 'text', changeable: 'text' });

/** Shown by their own commands (SHOW DATABASES, USERS, TENANTS, CLASSES), or secret (the users file's passwords). */
const ELSEWHERE = new Set(['secrets', 'databases', 'users', 'scheduler']);
/** Any setting whose name says it holds a secret shows only that it is set. */
const SECRET_NAME = /password|secret|token|credential/i;
/** Milliseconds in the snapshot, seconds in YAML. */
const DURATIONS = new Set(['server_lifetime', 'stats_period', 'auth_failure_window', 'auth_failure_lockout']);
const isDuration = (key: string): boolean => key.endsWith('_timeout') || DURATIONS.has(key);
/** A reload cannot move the listening socket. */
const FIXED = new Set(['listen_addr', 'listen_port']);

export function showConfig(host: AdminHost): ResultSet {
  const c = host.config();
  const rows: Cell[][] = [];
  const defaults = DEFAULTS as Record<string, unknown>;
  for (const [key, value] of Object.entries(c)) if (!ELSEWHERE.has(key)) flatten(key, value, defaults[key], rows);
  rows.push(...isolationRows(c));
  rows.sort((a, b) => String(a[0]).localeCompare(String(b[0])));
  return { columns: CONFIG_COLUMNS, rows };
}

/** Sections become dotted keys (`server_tls.sslmode`), as they are written in YAML. */
function flatten(key: string, value: unknown, def: unknown, rows: Cell[][]): void {
  if (!isPlainObject(value) || SECRET_NAME.test(key)) return void rows.push(row(key, value, def));
  const d = isPlainObject(def) ? def : {};
  for (const [sub, v] of Object.entries(value)) flatten(`${key}.${sub}`, v, d[sub], rows);
}

function isolationRows(c: SluiceConfig): Cell[][] {
  const s = c.scheduler;
  return [
    row('scheduler.mode', s.mode, 'fair'),
    row('tenant_key', s.tenant_key, 'user'),
    row('tenant_option', s.tenant_option, 'sluice.tenant'),
    row('tenant_pattern', s.tenant_pattern?.source, undefined),
  ];
}

function row(key: string, value: unknown, def: unknown): Cell[] {
  if (SECRET_NAME.test(key)) return [key, value === undefined ? '' : '[redacted]', '', changeable(key)];
  const show = (v: unknown): string => text(isDuration(key.split('.').pop()!) && typeof v === 'number' ? v / 1000 : v);
  return [key, show(value), show(def), changeable(key)];
}

function changeable(key: string): string {
  return FIXED.has(key) ? 'no' : 'yes';
}

function text(v: unknown): string {
  if (v === undefined || v === null) return '';
  if (Array.isArray(v)) return v.join(',');
  if (v instanceof RegExp) return v.source;
  return String(v);
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Map) && !(v instanceof RegExp) && !Buffer.isBuffer(v);
}
