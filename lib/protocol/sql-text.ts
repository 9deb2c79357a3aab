// SQL literals for the statements Sluice writes itself: safe whatever standard_conforming_strings a pooled connection has.

/** An E'' literal: a connection a client left with standard_conforming_strings off cannot make a backslash end it early. */
export function literal(s: string): string {
  return `E'${s.replace(/\\/g, '\\\\').replace(/'/g, "''")}'`;
}

/** A text[] of literals. */
export function textArray(items: Iterable<string>): string {
  return `ARRAY[${[...items].map(literal).join(', ')}]::text[]`;
}
