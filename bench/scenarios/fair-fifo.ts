// Scenario 1b: what fair scheduling costs against fifo at low load, Sluice alone, the two modes alternating.
import { DEFAULT_POOL, type Endpoint, type Target } from '../targets/target.js';
import { fairFifoLines, renderFairFifo, type SchedulerMode } from './fair-fifo-report.js';
import { attempt, type BenchContext, type Row, type Scenario, type ScenarioOutcome } from './scenario.js';
import { measureSelectOnly } from './throughput.js';

const CLIENTS = [10, 50];
/** Rounds per mode; the order alternates (fifo, fair, then fair, fifo, ...) so drift in machine load hits both. */
const ROUNDS = 3;
const QUICK_ROUNDS = 2;

/** The same pool and budget as the throughput scenario; only the scheduler mode differs. */
function setup(mode: SchedulerMode) {
  return { ...DEFAULT_POOL, sluice: { scheduler: { mode }, tenant_key: 'user' } };
}

function order(round: number): SchedulerMode[] {
  return round % 2 === 0 ? ['fifo', 'fair'] : ['fair', 'fifo'];
}

async function runMode(ctx: BenchContext, target: Target, mode: SchedulerMode, round: number): Promise<Row[]> {
  let endpoint: Endpoint;
  try {
    endpoint = await target.start(setup(mode));
  } catch (err) {
    return CLIENTS.map((clients) => ({
      variant: `${mode} ${clients}`,
      target: target.name,
      scheduler: mode,
      clients,
      round,
      error: (err as Error).message,
    }));
  }
  const rows: Row[] = [];
  for (const clients of CLIENTS) {
    const variant = `${mode} ${clients}`;
    const row = await attempt(ctx, variant, target.name, () => measureSelectOnly(ctx, endpoint, variant, clients, 'extended'));
    rows.push({ ...row, scheduler: mode, clients, round });
  }
  return rows;
}

async function run(ctx: BenchContext): Promise<ScenarioOutcome> {
  const target = ctx.targets.find((t) => t.name === 'sluice');
  if (!target) return { rows: [], notes: ['Not run: it measures Sluice only, and sluice is not among the --targets.'] };
  const rows: Row[] = [];
  const rounds = ctx.options.quick ? QUICK_ROUNDS : ROUNDS;
  for (let round = 0; round < rounds; round++) {
    for (const mode of order(round)) {
      ctx.progress(`fair vs fifo, round ${round + 1} of ${rounds}: scheduler ${mode}`);
      rows.push(...(await runMode(ctx, target, mode, round)));
    }
  }
  await target.stop();
  for (const l of fairFifoLines(rows)) {
    ctx.progress(`  ${l.clients} clients: fair / fifo tps ${l.tpsRatio.toFixed(3)}, CPU/txn ${l.cpuRatio.toFixed(3)}`);
  }
  return {
    rows,
    notes: [
      `Sluice only: pgbench -S -M extended as one role, pool size ${DEFAULT_POOL.poolSize}, budget ${DEFAULT_POOL.budget}, tenant = login role; Sluice restarted with \`scheduler.mode\` fifo or fair, nothing else changed.`,
      `${rounds} round(s) per mode, alternating which mode goes first; each figure is the median over rounds, each round measured like the throughput scenario (steady window after the logins, CPU from /proc).`,
      'Target (issue 3): fair / fifo tps ≥ 0.95 at low load. Compare the two columns of one run only.',
    ],
  };
}

export const fairFifo: Scenario = { name: 'fairfifo', title: 'Fair versus fifo scheduling', run, render: renderFairFifo };
