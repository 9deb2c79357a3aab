// Checks the table formatting: number formats, missing values, escaping, and failure footnotes.
import t from 'tap';
import { byTarget, Footnotes, MISSING, ms, NOT_RUN, num, pct, table, times, variants } from '../../../../bench/report/markdown.js';
import type { Row } from '../../../../bench/scenarios/scenario.js';

t.test('numbers: fixed digits, thousands separators, and a dash for anything not measured', async (t) => {
  t.equal(num(12345.678), '12,346');
  t.equal(num(0.5, 2), '0.50');
  t.equal(num(NaN), MISSING);
  t.equal(num(Infinity), MISSING);
  t.equal(num(null), MISSING);
  t.equal(num('12'), MISSING, 'strings are not numbers');
  t.equal(ms(0.423), '0.42');
  t.equal(ms(4.23), '4.2');
  t.equal(ms(423.4), '423');
  t.equal(pct(0.9812), '98.1%');
  t.equal(times(1.234), '1.23×');
  t.equal(times(1234), '1,234×');
  t.equal(times(NaN), MISSING);
});

t.test('tables escape pipes and have a separator row', async (t) => {
  t.equal(table(['a', 'b|c'], [['1', 'x|y']]), '| a | b\\|c |\n| --- | --- |\n| 1 | x\\|y |');
});

t.test('a failed row shows "failed [n]" once, dashes after, and the error as footnote n', async (t) => {
  const foot = new Footnotes();
  const ok: Row = { variant: 'v', target: 'sluice', tps: 5 };
  const bad: Row = { variant: 'v', target: 'pgbouncer', error: 'boom' };
  const skipped: Row = { variant: 'v', target: 'direct', error: `${NOT_RUN}no pooler` };
  t.equal(
    foot.cell(ok, (r) => num(r.tps)),
    '5',
  );
  t.equal(
    foot.cell(bad, () => 'x'),
    'failed [1]',
  );
  t.equal(
    foot.cell(bad, () => 'x'),
    MISSING,
    'only the first cell of a failed row is labelled',
  );
  t.equal(
    foot.cell(skipped, () => 'x'),
    'not run [2]',
  );
  t.equal(
    foot.cell({ ...bad }, () => 'x'),
    'failed [1]',
    'the same error reuses its footnote',
  );
  t.equal(
    foot.cell(undefined, () => 'x'),
    MISSING,
  );
  t.equal(foot.render(), '[1] boom\n\n[2] not run: no pooler');
});

t.test('rows group by variant and target', async (t) => {
  const rows: Row[] = [
    { variant: 'a', target: 'direct' },
    { variant: 'b', target: 'direct' },
    { variant: 'a', target: 'sluice', tps: 1 },
  ];
  t.same(variants(rows), ['a', 'b']);
  t.same(Object.keys(byTarget(rows, 'a')).sort(), ['direct', 'sluice']);
  t.equal(byTarget(rows, 'a').sluice?.tps, 1);
});
