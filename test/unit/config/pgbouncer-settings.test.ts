// Tests that the PgBouncer settings table and docs/migrating-from-pgbouncer.md agree, so the guide cannot drift from the importer.
import t from 'tap';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import {
  DATABASE_PARAMETERS,
  PEER_PARAMETERS,
  PGBOUNCER_SETTINGS,
  USER_PARAMETERS,
  type SettingInfo,
} from '../../../lib/config/pgbouncer-settings.js';
import { regenerateGuide, regenerateReadme } from '../../helpers/pgbouncer-guide.js';

const GUIDE = readFileSync(fileURLToPath(new URL('../../../docs/migrating-from-pgbouncer.md', import.meta.url)), 'utf8');

/** The table rows (setting name to status) of the guide's text between two headings. */
function rowsBetween(from: string, to: string | null): Map<string, string> {
  const start = GUIDE.indexOf(from);
  const end = to === null ? GUIDE.length : GUIDE.indexOf(to, start + 1);
  const section = GUIDE.slice(start, end < 0 ? GUIDE.length : end);
  return new Map([...section.matchAll(/^\| `([^`]+)` \| (mapped|planned|unsupported) \|/gm)].map((m) => [m[1]!, m[2]!]));
}

function same(
  t: { same: (a: unknown, b: unknown, m: string) => unknown; equal: (a: unknown, b: unknown, m: string) => unknown },
  rows: Map<string, string>,
  table: Readonly<Record<string, SettingInfo>>,
  what: string,
): void {
  t.same([...rows.keys()].sort(), Object.keys(table).sort(), `${what}: the guide lists every setting once`);
  for (const [name, info] of Object.entries(table)) t.equal(rows.get(name), info.status, `${what} ${name}`);
}

t.test('every [pgbouncer] setting is in the guide with its status', async (t) => {
  same(t, rowsBetween('## Settings', '### Section [databases]'), PGBOUNCER_SETTINGS, '[pgbouncer]');
});

t.test('every section parameter is in the guide with its status', async (t) => {
  same(t, rowsBetween('### Section [databases]', '### Section [users]'), DATABASE_PARAMETERS, '[databases]');
  same(t, rowsBetween('### Section [users]', '### Section [peers]'), USER_PARAMETERS, '[users]');
  same(t, rowsBetween('### Section [peers]', '## Differences'), PEER_PARAMETERS, '[peers]');
});

t.test('the table explains every setting Sluice lacks', async (t) => {
  for (const table of [PGBOUNCER_SETTINGS, DATABASE_PARAMETERS, USER_PARAMETERS, PEER_PARAMETERS]) {
    for (const [name, info] of Object.entries(table)) {
      if (info.status === 'mapped') t.ok(info.sluice, `${name} names its Sluice setting`);
      else t.ok(info.note && info.note.length > 10, `${name} says why`);
    }
  }
});

t.test("the guide's rows and counts and the README's coverage table are what the settings table gives", async (t) => {
  const readme = readFileSync(fileURLToPath(new URL('../../../README.md', import.meta.url)), 'utf8');
  const { text, categories } = regenerateGuide(GUIDE);
  t.equal(GUIDE, text, 'docs/migrating-from-pgbouncer.md is current (node --import=… scripts/pgbouncer-guide.ts rewrites it)');
  t.equal(readme, regenerateReadme(readme, categories), 'README.md is current');
  t.equal(categories.length, 11);
});
