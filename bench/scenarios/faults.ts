// Scenario: faults. Writers commit unique ids through each target while Postgres suffers one fault at a time; no acknowledged commit may be lost.
import { COMMITS_TABLE, CommitWorkload } from '../faults/commit-workload.js';
import { FAULT_LABELS, FAULT_NAMES, injectFault, STOP_MS, type FaultName } from '../faults/fault-injectors.js';
import { windowNumbers, type FaultWindow, type WindowNumbers } from '../faults/fault-window.js';
import { Footnotes, ms, num, section, table } from '../report/markdown.js';
import { TARGET_LABELS, type PoolSetup, type Target } from '../targets/target.js';
import {
  attemptRows,
  connection,
  sleep,
  type BenchContext,
  type Metrics,
  type Row,
  type Scenario,
  type ScenarioOutcome,
} from './scenario.js';

const WRITERS = 8;
const WARM_UP_MS = 2000;
/** After a fault: wait for every writer to commit again (at most this long), then this much steady time. */
const RECOVERY_LIMIT_MS = 30_000;
const STEADY_MS = 1000;
const SETUP: PoolSetup = { poolSize: WRITERS, budget: WRITERS, queryWaitTimeoutS: 120, maxClientConn: 1000 };

async function resetTable(ctx: BenchContext): Promise<void> {
  await ctx.postgres.query(
    `DROP TABLE IF EXISTS ${COMMITS_TABLE}; CREATE TABLE ${COMMITS_TABLE} (id bigint PRIMARY KEY); GRANT ALL ON ${COMMITS_TABLE} TO writer`,
  );
}

/** Waits until each writer has a commit acknowledged that it sent after `from`, or the limit passes. */
async function recovered(work: CommitWorkload, from: number): Promise<void> {
  while (performance.now() - from < RECOVERY_LIMIT_MS) {
    const writers = new Set(work.acksSince(from).map((a) => Math.floor(a.id / 1_000_000_000)));
    if (writers.size === WRITERS) return;
    await sleep(50);
  }
}

/** Reads the table back once Postgres answers again (it may still be recovering from the last fault). */
async function storedIds(ctx: BenchContext): Promise<Set<number>> {
  for (let attemptNo = 0; ; attemptNo++) {
    try {
      const rows = await ctx.postgres.query<{ id: string }>(`SELECT id FROM ${COMMITS_TABLE}`);
      return new Set(rows.map((r) => Number(r.id)));
    } catch (err) {
      if (attemptNo >= 50) throw err;
      await sleep(200);
    }
  }
}

async function measure(ctx: BenchContext, target: Target): Promise<Row[]> {
  await resetTable(ctx);
  const endpoint = await target.start(SETUP);
  const work = new CommitWorkload(connection(endpoint, ctx, 'writer'), WRITERS);
  await sleep(WARM_UP_MS);
  const windows: (FaultWindow & { fault: FaultName; did: string })[] = [];
  for (const fault of FAULT_NAMES) {
    const from = performance.now();
    ctx.progress(`  ${fault} via ${target.name}`);
    const { did, at } = await injectFault(fault, ctx.postgres, 'writer');
    await recovered(work, performance.now());
    await sleep(STEADY_MS);
    windows.push({ fault, did, from, effectAt: at, to: Infinity, writers: WRITERS });
    if (windows.length > 1) windows[windows.length - 2].to = from;
  }
  windows[windows.length - 1].to = performance.now();
  await work.stop();
  const alive = endpoint.pid === undefined || isAlive(endpoint.pid);
  const stored = await storedIds(ctx);
  return windows.map((w) => ({
    variant: w.fault,
    target: target.name,
    did: w.did,
    poolerAlive: alive,
    ...numbersOf(windowNumbers(w, work.acks, work.errors, stored)),
  }));
}

/** The window's numbers as row fields: lost ids as a short list. */
function numbersOf(n: WindowNumbers): Metrics {
  const { lostIds, ...rest } = n;
  return { ...rest, lostSample: lostIds.length ? lostIds.join(', ') : null };
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function run(ctx: BenchContext): Promise<ScenarioOutcome> {
  const rows: Row[] = [];
  for (const target of ctx.targets) {
    ctx.progress(`faults via ${target.name}`);
    rows.push(...(await attemptRows(ctx, 'all', target.name, () => measure(ctx, target))));
    await target.stop();
  }
  return {
    rows,
    notes: [
      `${WRITERS} writers, one pg client each, INSERT one unique id per autocommit transaction back to back; role \`writer\` has synchronous_commit on (the server has it off), so an acknowledged commit is in the WAL. A writer whose connection fails opens a new one.`,
      `Faults, one at a time in this order: ${FAULT_NAMES.map((f) => `**${f}**: ${FAULT_LABELS[f]}`).join('; ')}.`,
      `Each fault's window runs from its injection until every writer has committed again (at most ${RECOVERY_LIMIT_MS / 1000} s), plus ${STEADY_MS / 1000} s. **lost**: acknowledged commits of the window missing from the table read back after the run. **first commit**: from the moment the fault took effect (the signal, the terminate, the start of the shutdown) to the first acknowledged commit sent after it. **all writers back**: until every writer has one. **longest gap**: the longest time in the window with no commit acknowledged by anyone. **longest writer stall**: the longest time one writer went without an acknowledged commit.`,
      `Poolers: pool size ${SETUP.poolSize}, budget ${SETUP.budget}, query_wait_timeout ${SETUP.queryWaitTimeoutS} s. The SIGSTOP lasts ${STOP_MS / 1000} s.`,
    ],
  };
}

function render(outcome: ScenarioOutcome): string {
  const foot = new Footnotes();
  const headers = [
    'fault',
    'target',
    'commits acknowledged',
    'lost',
    'client errors',
    'first commit ms',
    'all writers back ms',
    'longest gap ms',
    'longest writer stall ms',
    'errors seen',
  ];
  const body = outcome.rows.map((r) => [
    r.variant,
    TARGET_LABELS[r.target],
    foot.cell(r, (x) => num(x.acked)),
    foot.cell(r, (x) => num(x.lost)),
    foot.cell(r, (x) => num(x.errors)),
    foot.cell(r, (x) => ms(x.firstCommitMs)),
    foot.cell(r, (x) => ms(x.allBackMs)),
    foot.cell(r, (x) => ms(x.longestGapMs)),
    foot.cell(r, (x) => ms(x.longestStallMs)),
    foot.cell(r, (x) => String(x.errorKinds || 'none')),
  ]);
  return section('Faults', [table(headers, body)], outcome.notes, foot);
}

export const faults: Scenario = { name: 'faults', title: 'Faults', run, render };
