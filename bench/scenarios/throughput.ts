// Scenario 1: pgbench throughput and the pooler's CPU per transaction, select-only in three query modes and TPC-B-like.
import { runPgbench, type PgbenchSpec, type QueryMode } from '../core/pgbench.js';
import { steadyState } from '../core/pgbench-output.js';
import { SteadyCpu } from '../core/steady-cpu.js';
import { byTarget, Footnotes, MISSING, ms, num, section, table, times, variants } from '../report/markdown.js';
import { DEFAULT_POOL, TARGET_LABELS, type Endpoint } from '../targets/target.js';
import { preparedGain } from './prepared-gain.js';
import { attempt, connection, type BenchContext, type Row, type Scenario, type ScenarioOutcome } from './scenario.js';

const MODES: QueryMode[] = ['simple', 'extended', 'prepared'];
const CLIENTS = [10, 50, 200, 1000];
/** A smoke run skips 1,000 clients: their SCRAM logins alone take seconds per run. */
const QUICK_CLIENTS = [10, 200];
const TPCB_CLIENTS = 50;

interface Run {
  variant: string;
  spec: Omit<PgbenchSpec, 'seconds'>;
}

function plan(quick: boolean): Run[] {
  const runs: Run[] = [];
  for (const mode of MODES) {
    for (const clients of quick ? QUICK_CLIENTS : CLIENTS)
      runs.push({ variant: `select-only ${mode} ${clients}`, spec: { clients, mode, builtin: 'select-only' } });
  }
  runs.push({ variant: `tpcb-like simple ${TPCB_CLIENTS}`, spec: { clients: TPCB_CLIENTS, mode: 'simple', builtin: 'tpcb-like' } });
  return runs;
}

/** One select-only pgbench run; the fair-versus-fifo scenario measures its modes with it too. */
export function measureSelectOnly(ctx: BenchContext, endpoint: Endpoint, variant: string, clients: number, mode: QueryMode): Promise<Row> {
  return measure(ctx, endpoint, { variant, spec: { clients, mode, builtin: 'select-only' } });
}

async function measure(ctx: BenchContext, endpoint: Endpoint, run: Run): Promise<Row> {
  const cpu = endpoint.pid ? new SteadyCpu(endpoint.pid, ctx.units) : undefined;
  const spec: PgbenchSpec = { ...run.spec, seconds: ctx.options.seconds, steady: true, onProgress: cpu?.onProgress };
  const { summary, progress } = await runPgbench(ctx.cleanup, connection(endpoint, ctx, 'bench'), spec, ctx.options.fdLimit);
  const steady = steadyState(progress);
  const perTxn = await cpu?.result();
  const row: Row = {
    variant: run.variant,
    target: endpoint.target,
    clients: run.spec.clients,
    mode: run.spec.mode,
    tps: steady.tps,
    latencyMs: steady.latencyAvgMs,
    txns: steady.txns,
    steadySeconds: steady.seconds,
    failed: steady.failed,
    abortedClients: summary.abortedClients,
    cpuUsPerTxn: perTxn?.usPerTxn ?? null,
  };
  if (summary.abortedClients > 0 || !(steady.txns > 0)) {
    const why = summary.errors[0] ?? 'no transactions completed after the logins';
    row.error = `${summary.abortedClients} of ${run.spec.clients} clients aborted: ${why}`;
  }
  ctx.progress(
    `  ${run.variant} via ${endpoint.target}: ${num(steady.tps)} tps, ${ms(steady.latencyAvgMs)} ms, ` +
      `${perTxn ? `${num(perTxn.usPerTxn, 1)} µs CPU/txn` : 'no CPU figure'}${row.error ? ` (${row.error})` : ''}`,
  );
  return row;
}

async function run(ctx: BenchContext): Promise<ScenarioOutcome> {
  const rows: Row[] = [];
  for (const target of ctx.targets) {
    ctx.progress(`throughput via ${TARGET_LABELS[target.name]}`);
    let endpoint: Endpoint;
    try {
      endpoint = await target.start(DEFAULT_POOL);
    } catch (err) {
      for (const r of plan(ctx.options.quick)) rows.push({ variant: r.variant, target: target.name, error: (err as Error).message });
      continue;
    }
    for (const r of plan(ctx.options.quick)) rows.push(await attempt(ctx, r.variant, target.name, () => measure(ctx, endpoint, r)));
    await target.stop();
  }
  return {
    rows,
    notes: [
      `pgbench -j 2 -P 1 as one role, SCRAM; poolers: transaction mode, pool size ${DEFAULT_POOL.poolSize}, shared budget ${DEFAULT_POOL.budget}.`,
      `Measured over ${ctx.options.seconds} s of steady state: the ${ctx.options.seconds} per-second progress reports after pgbench's first one (its clients are all logged in by then); then pgbench is stopped. tps and latency come from those reports (latency: transaction-weighted mean).`,
      "CPU µs/txn: the pooler process's user+system time from /proc/<pid>/stat over the same window, divided by the transactions completed in it.",
      'Direct Postgres has no pooler: every client is a backend, and its CPU column is empty.',
    ],
  };
}

function render(outcome: ScenarioOutcome): string {
  const foot = new Footnotes();
  const headers = [
    'workload',
    'clients',
    'tps direct',
    'tps PgBouncer',
    'tps Sluice',
    'Sluice / PgBouncer tps',
    'latency ms direct',
    'latency ms PgBouncer',
    'latency ms Sluice',
    'CPU µs/txn PgBouncer',
    'CPU µs/txn Sluice',
    'Sluice / PgBouncer CPU',
  ];
  const body = variants(outcome.rows).map((v) => {
    const t = byTarget(outcome.rows, v);
    const ok = (name: 'pgbouncer' | 'sluice', key: string) => (t[name] && !t[name]!.error ? (t[name]![key] as number) : NaN);
    const [script, mode, clients] = v.split(' ');
    return [
      `${script} ${mode}`,
      clients ?? MISSING,
      foot.cell(t.direct, (r) => num(r.tps)),
      foot.cell(t.pgbouncer, (r) => num(r.tps)),
      foot.cell(t.sluice, (r) => num(r.tps)),
      times(ok('sluice', 'tps') / ok('pgbouncer', 'tps')),
      foot.cell(t.direct, (r) => ms(r.latencyMs)),
      foot.cell(t.pgbouncer, (r) => ms(r.latencyMs)),
      foot.cell(t.sluice, (r) => ms(r.latencyMs)),
      foot.cell(t.pgbouncer, (r) => num(r.cpuUsPerTxn, 1)),
      foot.cell(t.sluice, (r) => num(r.cpuUsPerTxn, 1)),
      times(ok('sluice', 'cpuUsPerTxn') / ok('pgbouncer', 'cpuUsPerTxn')),
    ];
  });
  return section('1. Throughput and overhead', [table(headers, body), '', preparedGain(outcome.rows)], outcome.notes, foot);
}

export const throughput: Scenario = { name: 'throughput', title: 'Throughput and overhead', run, render };
