// Owns turning numbers into markdown: number formats, missing values, tables and footnotes.
import type { Row } from '../scenarios/scenario.js';
import type { TargetName } from '../targets/target.js';

export const MISSING = '–';
/** Prefix of a row error that marks a run skipped on purpose, not a failure. */
export const NOT_RUN = 'not run: ';

/** Fixed digits; missing, NaN and ±Infinity print as a dash. */
export function num(value: unknown, digits = 0): string {
  return typeof value === 'number' && Number.isFinite(value)
    ? value.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits })
    : MISSING;
}

/** Milliseconds with precision that suits the size: 0.42, 4.2, 42, 420. */
export function ms(value: unknown): string {
  if (typeof value !== 'number' || !Number.isFinite(value)) return MISSING;
  return num(value, value < 1 ? 2 : value < 10 ? 1 : 0);
}

export function pct(value: unknown, digits = 1): string {
  return typeof value === 'number' && Number.isFinite(value) ? `${num(value * 100, digits)}%` : MISSING;
}

export function times(value: unknown): string {
  return typeof value === 'number' && Number.isFinite(value) ? `${num(value, value < 10 ? 2 : 0)}×` : MISSING;
}

export function table(headers: readonly string[], rows: readonly (readonly string[])[]): string {
  const line = (cells: readonly string[]) => `| ${cells.map((c) => c.replace(/\|/g, '\\|')).join(' | ')} |`;
  return [line(headers), line(headers.map(() => '---')), ...rows.map(line)].join('\n');
}

/** Collects failure messages as numbered footnotes, so table cells stay short. */
export class Footnotes {
  private readonly notes: string[] = [];
  private readonly labelled = new Set<Row>();

  /**
   * The cell for a row: `value`, or for a row with an error "failed [n]" / "not run [n]" (the error
   * is footnote n) in its first cell and a dash in the others.
   */
  cell(row: Row | undefined, value: (row: Row) => string): string {
    if (!row) return MISSING;
    if (!row.error) return value(row);
    if (this.labelled.has(row)) return MISSING;
    this.labelled.add(row);
    let index = this.notes.indexOf(row.error);
    if (index < 0) index = this.notes.push(row.error) - 1;
    return `${row.error.startsWith(NOT_RUN) ? 'not run' : 'failed'} [${index + 1}]`;
  }

  render(): string {
    return this.notes.map((n, i) => `[${i + 1}] ${n}`).join('\n\n');
  }
}

/** Rows of one variant keyed by target. */
export function byTarget(rows: readonly Row[], variant: string): Partial<Record<TargetName, Row>> {
  const out: Partial<Record<TargetName, Row>> = {};
  for (const r of rows) if (r.variant === variant) out[r.target] = r;
  return out;
}

/** Variants in first-seen order. */
export function variants(rows: readonly Row[]): string[] {
  return [...new Set(rows.map((r) => r.variant))];
}

export function section(title: string, body: string[], notes: readonly string[], footnotes: Footnotes): string {
  const foot = footnotes.render();
  return [`### ${title}`, '', ...body, ...(notes.length ? ['', ...notes.map((n) => `- ${n}`)] : []), ...(foot ? ['', foot] : [])].join(
    '\n',
  );
}
