// Owns bench/results/<date>/: merging each scenario's record into results.json and rewriting results.md from it.
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { MachineInfo } from '../core/machine.js';
import type { ScenarioName, ScenarioOutcome } from '../scenarios/scenario.js';

export interface ScenarioRecord {
  title: string;
  startedAt: string;
  finishedAt: string;
  seconds: number;
  quick: boolean;
  machine: MachineInfo;
  outcome: ScenarioOutcome;
}

export interface ResultsFile {
  scenarios: Partial<Record<ScenarioName, ScenarioRecord>>;
}

export type Renderers = Record<ScenarioName, (outcome: ScenarioOutcome) => string>;

/** Quick runs go to a directory of their own, so a smoke test never mixes with a real run's tables. */
export function resultsDir(root: string, date: Date, quick: boolean): string {
  return path.join(root, 'bench', 'results', `${date.toISOString().slice(0, 10)}${quick ? '-quick' : ''}`);
}

async function load(dir: string): Promise<ResultsFile> {
  const file = path.join(dir, 'results.json');
  return existsSync(file) ? (JSON.parse(await readFile(file, 'utf8')) as ResultsFile) : { scenarios: {} };
}

function machineLine(m: MachineInfo): string {
  return `${m.cpu}, ${m.cores} cores, ${m.memoryGb} GB, ${m.kernel}; Node ${m.node}; ${m.postgres}; ${m.pgbouncer}; ${m.pgbench}; load average ${m.loadAverage.join(' / ')} at start`;
}

export function renderResults(results: ResultsFile, renderers: Renderers, order: readonly ScenarioName[]): string {
  const parts = ['# Sluice benchmark results', ''];
  for (const name of order) {
    const record = results.scenarios[name];
    if (!record) continue;
    parts.push(renderers[name](record.outcome), '');
    parts.push(
      `_${record.quick ? 'Quick smoke run' : 'Run'} of ${record.startedAt} (${record.seconds} s per measurement) on ${machineLine(record.machine)}._`,
      '',
    );
  }
  return parts.join('\n');
}

/** Adds (or replaces) one scenario's record and rewrites both files; returns the markdown path. */
export async function saveScenario(
  dir: string,
  name: ScenarioName,
  record: ScenarioRecord,
  renderers: Renderers,
  order: readonly ScenarioName[],
): Promise<string> {
  await mkdir(dir, { recursive: true });
  const results = await load(dir);
  results.scenarios[name] = record;
  await writeFile(path.join(dir, 'results.json'), `${JSON.stringify(results, null, 2)}\n`);
  const md = path.join(dir, 'results.md');
  await writeFile(md, renderResults(results, renderers, order));
  return md;
}

/** The newest full-run directory, else the newest quick one; undefined when there are none. */
export async function latestResultsDir(root: string): Promise<string | undefined> {
  const base = path.join(root, 'bench', 'results');
  if (!existsSync(base)) return undefined;
  const dirs = (await readdir(base))
    .filter((d) => /^\d{4}-\d{2}-\d{2}(-quick)?$/.test(d) && existsSync(path.join(base, d, 'results.json')))
    .sort();
  const full = dirs.filter((d) => !d.endsWith('-quick'));
  const pick = full.at(-1) ?? dirs.at(-1);
  return pick && path.join(base, pick);
}

export async function renderDir(dir: string, renderers: Renderers, order: readonly ScenarioName[]): Promise<string> {
  return renderResults(await load(dir), renderers, order);
}
