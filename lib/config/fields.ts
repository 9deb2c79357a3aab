// Zod field builders that carry the human message for each kind of config value.
import { z } from 'zod';

// Node's timers hold at most 2^31-1 ms; a longer timeout would fire at once instead of never.
export const MAX_TIMEOUT_SECONDS = Math.floor((2 ** 31 - 1) / 1000);
// ---- Field builders: each one carries the human message for its kind of value. ----

export type IssueInput = { readonly code?: string; readonly input?: unknown };

/** How a bad value is shown in a message: short, and never more than a type for secrets. */
export function describe(value: unknown): string {
  if (value === null) return 'an empty value';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a mapping';
  if (typeof value === 'string') return JSON.stringify(value.length > 60 ? `${value.slice(0, 57)}...` : value);
  return String(value);
}

export function expecting(what: string) {
  return (iss: IssueInput) => (iss.input === undefined ? 'required' : `expected ${what}, got ${describe(iss.input)}`);
}

export function integer(min: number, max?: number) {
  const error = expecting(max === undefined ? `integer >= ${min}` : `integer ${min}-${max}`);
  const base = z.number({ error }).int({ error }).min(min, { error });
  return max === undefined ? base : base.max(max, { error });
}

/** Seconds in YAML (fractions allowed), milliseconds in the snapshot. */
export function seconds(defaultMs: number) {
  const error = expecting(`seconds 0-${MAX_TIMEOUT_SECONDS}`);
  return (
    z
      .number({ error })
      .min(0, { error })
      .max(MAX_TIMEOUT_SECONDS, { error })
      // A tiny positive value must not round down to 0, which would mean "disabled".
      .transform((s) => (s > 0 ? Math.max(1, Math.round(s * 1000)) : 0))
      .default(defaultMs)
  );
}

export function text(opts: { allowEmpty?: boolean } = {}) {
  const error = expecting(opts.allowEmpty ? 'a string' : 'a non-empty string');
  return opts.allowEmpty ? z.string({ error }) : z.string({ error }).min(1, { error });
}

/** A password or stored secret: the message names only the type of a bad value, never the value. */
export function secretText() {
  return z.string({
    error: (iss: IssueInput) =>
      iss.input === undefined
        ? 'required'
        : `expected a string (quote it in YAML), got ${iss.input === null ? 'an empty value' : `a ${typeof iss.input}`}`,
  });
}

export function oneOf<const T extends readonly [string, ...string[]]>(values: T) {
  return z.enum(values, { error: expecting(`one of ${values.join(', ')}`) });
}

export function flag(defaultValue: boolean) {
  return z.boolean({ error: expecting('true or false') }).default(defaultValue);
}

export function names(defaultValue: readonly string[]) {
  return z.array(text(), { error: expecting('a list of user names') }).default([...defaultValue]);
}

/** Startup parameter names, as a list or as PgBouncer's comma-separated string; lower-cased, as Postgres compares them. */
export function startupParameterNames(defaultValue: readonly string[]) {
  return z
    .union([z.array(text()), z.string()], { error: expecting('a list of parameter names, or one comma-separated string') })
    .transform((v) => (typeof v === 'string' ? v.split(',') : v).map((n) => n.trim().toLowerCase()).filter((n) => n !== ''))
    .default([...defaultValue]);
}

/** A mapping with a fixed set of keys; any other key is reported as an unknown setting. */
export function section<S extends z.ZodRawShape>(shape: S) {
  return z.strictObject(shape, { error: expecting('a mapping') });
}

export function namedSections<S extends z.ZodType>(value: S, what: string) {
  return z.record(z.string().min(1), value, {
    error: (iss: IssueInput) =>
      iss.code === 'invalid_key' ? `${what} names must not be empty` : expecting(`a mapping of ${what} names to settings`)(iss),
  });
}
