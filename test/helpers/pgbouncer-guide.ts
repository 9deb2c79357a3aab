// Owns regenerating the settings tables of docs/migrating-from-pgbouncer.md and the README's coverage table from lib/config/pgbouncer-settings.ts.
import {
  DATABASE_PARAMETERS,
  PEER_PARAMETERS,
  PGBOUNCER_SETTINGS,
  type SettingInfo,
  USER_PARAMETERS,
} from '../../lib/config/pgbouncer-settings.js';

const HEADING = /^### (.+?) \((\d+) mapped, (\d+) planned, (\d+) not supported\)$/;
const ROW = /^\| `([^`]+)` \| (mapped|planned|unsupported) \| .*\|$/;
const SUMMARY = /Of the \d+ `\[pgbouncer\]` settings, \d+ are mapped, \d+ planned and \d+ not supported\./;
export const README_START = '<!-- pgbouncer-coverage: generated from lib/config/pgbouncer-settings.ts -->';
export const README_END = '<!-- /pgbouncer-coverage -->';

export interface Category {
  title: string;
  mapped: number;
  planned: number;
  unsupported: number;
}

function tableFor(title: string): Readonly<Record<string, SettingInfo>> {
  if (title.startsWith('Section [databases]')) return DATABASE_PARAMETERS;
  if (title.startsWith('Section [users]')) return USER_PARAMETERS;
  if (title.startsWith('Section [peers]')) return PEER_PARAMETERS;
  return PGBOUNCER_SETTINGS;
}

function cell(info: SettingInfo): string {
  if (info.status === 'mapped') return info.note === undefined ? `\`${info.sluice}\`` : `\`${info.sluice}\`; ${info.note}`;
  return info.status === 'planned' ? info.note! : `not supported, because ${info.note}`;
}

/** The guide with every row and count rewritten from the table; the categories (headings) and row order stay the guide's. */
export function regenerateGuide(guide: string): { text: string; categories: Category[] } {
  const lines = guide.split('\n');
  const categories: Category[] = [];
  let current: { index: number; cat: Category; table: Readonly<Record<string, SettingInfo>> } | null = null;
  const close = (): void => {
    if (current === null) return;
    const c = current.cat;
    lines[current.index] = `### ${c.title} (${c.mapped} mapped, ${c.planned} planned, ${c.unsupported} not supported)`;
    categories.push(c);
  };
  for (const [i, line] of lines.entries()) {
    const h = HEADING.exec(line);
    if (h) {
      close();
      current = { index: i, cat: { title: h[1]!, mapped: 0, planned: 0, unsupported: 0 }, table: tableFor(h[1]!) };
      continue;
    }
    if (line.startsWith('## ')) {
      close();
      current = null;
    }
    const r = ROW.exec(line);
    if (!r || current === null) continue;
    const info = current.table[r[1]!];
    if (info === undefined) throw new Error(`the guide lists ${r[1]}, which the settings table does not have`);
    current.cat[info.status]++;
    lines[i] = `| \`${r[1]}\` | ${info.status} | ${cell(info)} |`;
  }
  close();
  const count = (s: SettingInfo['status']) => Object.values(PGBOUNCER_SETTINGS).filter((i) => i.status === s).length;
  const summary = `Of the ${Object.keys(PGBOUNCER_SETTINGS).length} \`[pgbouncer]\` settings, ${count('mapped')} are mapped, ${count('planned')} planned and ${count('unsupported')} not supported.`;
  return { text: lines.join('\n').replace(SUMMARY, summary), categories };
}

/** The README's table: PgBouncer settings covered, by category, between its markers. */
export function regenerateReadme(readme: string, categories: readonly Category[]): string {
  const start = readme.indexOf(README_START);
  const end = readme.indexOf(README_END);
  if (start < 0 || end < start) throw new Error('README.md lacks the pgbouncer-coverage markers');
  const rows = categories.map((c) => {
    const total = c.mapped + c.planned + c.unsupported;
    return `| ${c.title.replace(/\|/g, '\\|')} | ${c.mapped} / ${total} | ${c.planned} | ${c.unsupported} |`;
  });
  const sum = (k: 'mapped' | 'planned' | 'unsupported') => categories.reduce((n, c) => n + c[k], 0);
  const total = sum('mapped') + sum('planned') + sum('unsupported');
  const table = [
    README_START,
    '| PgBouncer 1.25 category | covered | planned | not supported |',
    '| --- | --- | --- | --- |',
    ...rows,
    `| **all** | **${sum('mapped')} / ${total}** | ${sum('planned')} | ${sum('unsupported')} |`,
  ].join('\n');
  return `${readme.slice(0, start)}${table}\n${readme.slice(end)}`;
}
