// Owns the bench's command line: which scenarios and targets, how long, and the table-printing mode.
import { parseArgs } from 'node:util';
import { DEFAULT_SCENARIOS, SCENARIO_NAMES, type ScenarioName } from './scenarios/scenario.js';
import type { TargetName } from './targets/target.js';

export interface BenchArgs {
  scenarios: ScenarioName[];
  targets: TargetName[];
  quick: boolean;
  seconds: number;
  /** How long the soak scenario runs. */
  soakSeconds: number;
  /** Print the markdown of a results directory (the latest when true) instead of running. */
  table: string | boolean;
  help: boolean;
}

export const USAGE = `usage: npm run bench -- [scenario ...] [--quick] [--seconds N] [--soak-seconds N] [--targets direct,pgbouncer,sluice]
       npm run bench -- --table [bench/results/<dir>]

scenarios: ${SCENARIO_NAMES.join(', ')} (default: ${DEFAULT_SCENARIOS.join(', ')}; faults, soak and logins only when named)
  --quick        smoke run: 2 s per measurement, fewer client counts (a few minutes for all scenarios)
  --seconds N    measured seconds per run (default 10; env BENCH_SECONDS)
  --soak-seconds N  how long the soak scenario runs (default 600; 60 with --quick)
  --targets L    comma-separated subset of direct, pgbouncer, sluice
  --table [DIR]  print the markdown tables of DIR (default: the newest results) and exit`;

const TARGETS: readonly TargetName[] = ['direct', 'pgbouncer', 'sluice'];

function list<T extends string>(text: string, allowed: readonly T[], what: string): T[] {
  const items = text
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  for (const item of items) if (!allowed.includes(item as T)) throw new Error(`unknown ${what} "${item}" (one of: ${allowed.join(', ')})`);
  return items as T[];
}

export function parseBenchArgs(argv: string[], env: NodeJS.ProcessEnv): BenchArgs {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      quick: { type: 'boolean', default: false },
      seconds: { type: 'string' },
      'soak-seconds': { type: 'string' },
      targets: { type: 'string' },
      table: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  const quick = values.quick ?? false;
  const secondsText = values.seconds ?? env.BENCH_SECONDS;
  const seconds = secondsText === undefined ? (quick ? 2 : 10) : Number(secondsText);
  if (!Number.isInteger(seconds) || seconds < 1)
    throw new Error(`--seconds / BENCH_SECONDS must be a whole number >= 1, got "${secondsText}"`);
  const soakText = values['soak-seconds'];
  const soakSeconds = soakText === undefined ? (quick ? 60 : 600) : Number(soakText);
  if (!Number.isInteger(soakSeconds) || soakSeconds < 10) throw new Error(`--soak-seconds must be a whole number >= 10, got "${soakText}"`);
  if (values.table) return { scenarios: [], targets: [], quick, seconds, soakSeconds, table: positionals[0] ?? true, help: false };
  const scenarios = positionals.length ? list(positionals.join(','), SCENARIO_NAMES, 'scenario') : [...DEFAULT_SCENARIOS];
  const targets = values.targets ? list(values.targets, TARGETS, 'target') : [...TARGETS];
  return { scenarios, targets, quick, seconds, soakSeconds, table: false, help: values.help ?? false };
}
