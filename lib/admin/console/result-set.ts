// A console result: typed columns and text cells, encoded as RowDescription, DataRows and CommandComplete.
import * as encode from '../../protocol/encode.js';

/** The column types PgBouncer's console uses, plus float8 for shares and percentiles. */
export type ColumnType = 'text' | 'int4' | 'int8' | 'numeric' | 'float8';

const OIDS: Record<ColumnType, number> = { text: 25, int4: 23, int8: 20, numeric: 1700, float8: 701 };

export interface Column {
  readonly name: string;
  readonly type: ColumnType;
}

/** null is SQL NULL; non-finite numbers (an unlimited cap) are shown as NULL too. */
export type Cell = string | number | null;

export interface ResultSet {
  readonly columns: readonly Column[];
  readonly rows: readonly (readonly Cell[])[];
}

/** Columns from an ordered name → type map: `columns({ database: 'text', cl_active: 'int4' })`. */
export function columns(spec: Record<string, ColumnType>): Column[] {
  return Object.entries(spec).map(([name, type]) => ({ name, type }));
}

function cellText(c: Cell): string | null {
  if (c === null) return null;
  if (typeof c === 'number') return Number.isFinite(c) ? String(c) : null;
  return c;
}

/** The messages of one result, ending with CommandComplete `tag`. */
export function encodeResult(rs: ResultSet, tag: string): Buffer[] {
  const out = [encode.rowDescription(rs.columns.map((c) => ({ name: c.name, typeOid: OIDS[c.type] })))];
  for (const row of rs.rows) {
    if (row.length !== rs.columns.length) throw new Error(`row of ${row.length} cells for ${rs.columns.length} columns`);
    out.push(encode.dataRow(row.map(cellText)));
  }
  out.push(encode.commandComplete(tag));
  return out;
}

/** A timestamp as PgBouncer prints it: `2024-05-01 12:00:00 UTC`. */
export function timestamp(wallMs: number): string {
  return `${new Date(wallMs).toISOString().slice(0, 19).replace('T', ' ')} UTC`;
}

/** A share 0..1 or a duration rounded for reading; null stays null. */
export function round(n: number | null, digits = 3): number | null {
  if (n === null || !Number.isFinite(n)) return null;
  const f = 10 ** digits;
  return Math.round(n * f) / f;
}
