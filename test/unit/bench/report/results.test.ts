// Checks bench/results/<date>/: scenarios merge into one results.json, results.md is rebuilt, the newest full run wins.
import t from 'tap';
import { mkdtemp, readFile, rm, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import {
  latestResultsDir,
  renderDir,
  resultsDir,
  saveScenario,
  type Renderers,
  type ScenarioRecord,
} from '../../../../bench/report/results.js';
import type { ScenarioOutcome } from '../../../../bench/scenarios/scenario.js';

const root = await mkdtemp(path.join(tmpdir(), 'bench-results-'));
t.teardown(() => rm(root, { recursive: true, force: true }));

const render = (name: string) => (o: ScenarioOutcome) => `### ${name}: ${o.rows.length} rows`;
const renderers = {
  throughput: render('throughput'),
  noisy: render('noisy'),
  storm: render('storm'),
  idle: render('idle'),
  http: render('http'),
} as Renderers;
const order = ['throughput', 'noisy', 'storm', 'idle', 'http'] as const;

function record(rows: number, quick = false): ScenarioRecord {
  return {
    title: 't',
    startedAt: '2030-01-02T03:04:05.000Z',
    finishedAt: '2030-01-02T03:05:05.000Z',
    seconds: 10,
    quick,
    machine: {
      cpu: 'Test CPU',
      cores: 2,
      memoryGb: 24,
      kernel: 'Linux 6',
      node: 'v20',
      postgres: 'PostgreSQL 18.4',
      pgbouncer: 'PgBouncer 1.18.0',
      pgbench: 'pgbench 15',
      loadAverage: [1, 2, 3],
    },
    outcome: { rows: Array.from({ length: rows }, () => ({ variant: 'v', target: 'sluice' as const })), notes: [] },
  };
}

t.test('the directory is named by date; quick runs get their own', async (t) => {
  const date = new Date('2030-01-02T03:04:05Z');
  t.equal(resultsDir(root, date, false), path.join(root, 'bench', 'results', '2030-01-02'));
  t.equal(resultsDir(root, date, true), path.join(root, 'bench', 'results', '2030-01-02-quick'));
});

t.test('scenarios saved one by one end up in one JSON and one markdown, in scenario order', async (t) => {
  const dir = resultsDir(root, new Date('2030-01-02T00:00:00Z'), false);
  await saveScenario(dir, 'storm', record(2), renderers, order);
  const md = await saveScenario(dir, 'throughput', record(3), renderers, order);
  const json = JSON.parse(await readFile(path.join(dir, 'results.json'), 'utf8'));
  t.same(Object.keys(json.scenarios).sort(), ['storm', 'throughput']);
  const text = await readFile(md, 'utf8');
  t.ok(text.indexOf('### throughput: 3 rows') < text.indexOf('### storm: 2 rows'), 'throughput before storm');
  t.match(text, /Test CPU, 2 cores, 24 GB.*PgBouncer 1\.18\.0.*load average 1 \/ 2 \/ 3/);
  await saveScenario(dir, 'storm', record(5), renderers, order);
  t.match(await renderDir(dir, renderers, order), /### storm: 5 rows/, 'a rerun replaces the scenario');
});

t.test('the newest full run is preferred over a newer quick one', async (t) => {
  const base = path.join(root, 'bench', 'results');
  await saveScenario(path.join(base, '2030-01-05-quick'), 'idle', record(1, true), renderers, order);
  await saveScenario(path.join(base, '2030-01-03'), 'idle', record(1), renderers, order);
  await mkdir(path.join(base, '2030-01-09'), { recursive: true }); // no results.json: ignored
  await writeFile(path.join(base, 'notes.txt'), '');
  t.equal(await latestResultsDir(root), path.join(base, '2030-01-03'));
  t.equal(await latestResultsDir(path.join(root, 'nowhere')), undefined);
});
