// Owns reading PgBouncer's value syntaxes (integers, seconds, name lists) the way its config loader does.

/** An integer as C's strtol(…, 0) reads it: decimal, 0x hex or leading-0 octal; null for anything else. */
export function pgbInteger(text: string): number | null {
  const m = /^\s*([+-]?)(0x[0-9a-f]+|0[0-7]*|[1-9][0-9]*)$/i.exec(text);
  if (!m) return null;
  const digits = m[2]!;
  const value = /^0x/i.test(digits)
    ? parseInt(digits.slice(2), 16)
    : digits.length > 1 && digits.startsWith('0')
      ? parseInt(digits, 8)
      : parseInt(digits, 10);
  return m[1] === '-' ? -value : value;
}

/** A duration in seconds, fractions allowed, never negative (PgBouncer's time settings); null if not a number. */
export function pgbSeconds(text: string): number | null {
  if (!/^\s*[0-9]*\.?[0-9]+(e[+-]?[0-9]+)?$/i.test(text)) return null;
  return Number(text);
}

/** PgBouncer's `a, b,c` lists (admin_users, stats_users, ignore_startup_parameters). */
export function pgbList(text: string): string[] {
  return text
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
}

/** Keep a number within Sluice's bounds; says whether it had to move. */
export function clamp(value: number, min: number, max: number): { value: number; clamped: boolean } {
  const bounded = Math.min(max, Math.max(min, value));
  return { value: bounded, clamped: bounded !== value };
}
