// `npm run bench`: starts Postgres, PgBouncer and Sluice, runs the chosen scenarios, writes bench/results/<date>/.
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseBenchArgs, USAGE, type BenchArgs } from './cli-args.js';
import { Cleanup } from './core/cleanup.js';
import { describeMachine, hardFdLimit, pgbenchVersion, procUnits } from './core/machine.js';
import { latestResultsDir, renderDir, resultsDir, saveScenario, type Renderers } from './report/results.js';
import { fairFifo } from './scenarios/fair-fifo.js';
import { faults } from './scenarios/faults.js';
import { http } from './scenarios/http.js';
import { idle } from './scenarios/idle.js';
import { noisy } from './scenarios/noisy.js';
import { SCENARIO_NAMES, type BenchContext, type Scenario, type ScenarioName } from './scenarios/scenario.js';
import { soak } from './scenarios/soak.js';
import { storm } from './scenarios/storm.js';
import { loginStorm } from './scenarios/login-storm.js';
import { throughput } from './scenarios/throughput.js';
import { startBenchPostgres, type BenchPostgres } from './targets/bench-postgres.js';
import { DirectTarget } from './targets/direct-target.js';
import { findPgbouncer, PgbouncerTarget, PGBOUNCER_INSTALL_HINT } from './targets/pgbouncer-target.js';
import { SluiceTarget } from './targets/sluice-target.js';
import type { Target } from './targets/target.js';

const SCENARIOS: Record<ScenarioName, Scenario> = {
  throughput,
  fairfifo: fairFifo,
  noisy,
  storm,
  idle,
  http,
  faults,
  soak,
  logins: loginStorm,
};
const RENDERERS = Object.fromEntries(SCENARIO_NAMES.map((n) => [n, SCENARIOS[n].render])) as Renderers;
const PGBENCH_SCALE = 10;
const IDLE_CLIENTS = 10_000;
/** A smoke run proves the idle scenario works with fewer logins. */
const QUICK_IDLE_CLIENTS = 2_000;
/** Headroom above the idle clients for Postgres connections, logs and the listener. */
const FD_SPARE = 1024;

/** The repository root: the nearest directory above this file with a package.json. */
function repoRoot(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  while (!existsSync(path.join(dir, 'package.json'))) {
    const up = path.dirname(dir);
    if (up === dir) throw new Error('cannot find the repository root (package.json)');
    dir = up;
  }
  return dir;
}

const started = performance.now();
function progress(line: string): void {
  process.stderr.write(`[${((performance.now() - started) / 1000).toFixed(0).padStart(4)} s] ${line}\n`);
}

async function printTable(root: string, which: string | boolean): Promise<number> {
  const dir = typeof which === 'string' ? path.resolve(which) : await latestResultsDir(root);
  if (!dir || !existsSync(path.join(dir, 'results.json'))) {
    console.error('bench: no results yet; run `npm run bench` first');
    return 1;
  }
  console.log(await renderDir(dir, RENDERERS, SCENARIO_NAMES));
  return 0;
}

type Pgbouncer = Awaited<ReturnType<typeof findPgbouncer>>;

function targetsFor(
  args: BenchArgs,
  cleanup: Cleanup,
  ctx: { root: string; fdLimit: number },
  postgres: BenchPostgres,
  pgbouncer: Pgbouncer,
) {
  const all: Target[] = [new DirectTarget(postgres)];
  if (pgbouncer) all.push(new PgbouncerTarget(cleanup, postgres, pgbouncer, ctx.fdLimit));
  all.push(new SluiceTarget(cleanup, postgres, path.join(ctx.root, 'dist', 'cli.js'), ctx.fdLimit));
  return { targets: all.filter((t) => args.targets.includes(t.name)), pgbouncerVersion: pgbouncer?.version ?? 'PgBouncer not installed' };
}

async function bench(args: BenchArgs, root: string, cleanup: Cleanup): Promise<void> {
  const pgbench = await pgbenchVersion();
  if (!pgbench) throw new Error('pgbench is not installed; install it with: apt-get install -y postgresql-client');
  const pgbouncer = await findPgbouncer();
  if (!pgbouncer && args.targets.includes('pgbouncer')) {
    progress(`PgBouncer is not installed, so this run goes without it. To include it: ${PGBOUNCER_INSTALL_HINT}`);
  }
  if (!existsSync(path.join(root, 'dist', 'cli.js'))) throw new Error('dist/cli.js is missing; `npm run bench` builds it (npm run build)');
  const hard = await hardFdLimit();
  const fdLimit = Math.min(hard, IDLE_CLIENTS + FD_SPARE * 2);
  const idleClients = Math.max(0, Math.min(args.quick ? QUICK_IDLE_CLIENTS : IDLE_CLIENTS, fdLimit - FD_SPARE));
  progress(`starting Postgres and loading pgbench data (scale ${PGBENCH_SCALE})`);
  const postgres = await startBenchPostgres(cleanup, PGBENCH_SCALE);
  const { targets, pgbouncerVersion } = targetsFor(args, cleanup, { root, fdLimit }, postgres, pgbouncer);
  const ctx: BenchContext = {
    options: { seconds: args.seconds, quick: args.quick, fdLimit, idleClients, soakSeconds: args.soakSeconds },
    rootDir: root,
    cleanup,
    postgres,
    targets,
    units: await procUnits(),
    progress,
  };
  const dir = resultsDir(root, new Date(), args.quick);
  for (const name of args.scenarios) {
    const startedAt = new Date().toISOString();
    const machine = await describeMachine({ postgres: `PostgreSQL ${postgres.version}`, pgbouncer: pgbouncerVersion, pgbench });
    const outcome = await SCENARIOS[name].run(ctx);
    if (cleanup.interrupted) return; // Children died with the signal: this outcome is not a measurement.
    const record = {
      title: SCENARIOS[name].title,
      startedAt,
      finishedAt: new Date().toISOString(),
      seconds: args.seconds,
      quick: args.quick,
      machine,
      outcome,
    };
    const md = await saveScenario(dir, name, record, RENDERERS, SCENARIO_NAMES);
    console.log(`\n${SCENARIOS[name].render(outcome)}\n`);
    progress(`${name} done; tables in ${path.relative(root, md)}`);
  }
}

async function main(): Promise<number> {
  const root = repoRoot();
  let args: BenchArgs;
  try {
    args = parseBenchArgs(process.argv.slice(2), process.env);
  } catch (err) {
    console.error(`bench: ${(err as Error).message}\n\n${USAGE}`);
    return 2;
  }
  if (args.help) {
    console.log(USAGE);
    return 0;
  }
  if (args.table) return printTable(root, args.table);
  const cleanup = new Cleanup();
  cleanup.installSignalHandlers();
  try {
    await bench(args, root, cleanup);
    return 0;
  } finally {
    progress('stopping everything the bench started');
    await cleanup.runAll();
  }
}

main().then(
  (code) => process.exit(code),
  (err) => {
    console.error(`bench: ${(err as Error).stack ?? err}`);
    process.exit(1);
  },
);
