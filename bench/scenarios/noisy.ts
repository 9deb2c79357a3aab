// Scenario 2: noisy neighbours. A fixed-rate victim beside slot hogs, CPU hogs, weighted tenants and overload.
import { busyPerWindow, meanBusy, startActivitySampler, type ActivitySample } from '../core/activity-sampler.js';
import { runPgbench, startPgbench, type PgbenchResult } from '../core/pgbench.js';
import { steadyState } from '../core/pgbench-output.js';
import { cpuMicros, readProcStat, rssMegabytes, watchPeakRss } from '../core/proc-stat.js';
import { percentile, ratio, shareReport, summarize, windowShareErrors } from '../core/stats.js';
import type { OverloadReport } from '../load/overload.js';
import type pg from 'pg';
import { DATABASE, type Role } from '../targets/bench-postgres.js';
import type { Endpoint, Target } from '../targets/target.js';
import { renderNoisy } from './noisy-report.js';
import { ALONE_SETUP, DEFAULTS_ALONE_SETUP, NOISY_PLANS, VICTIM, type NoisyPlan } from './noisy-workloads.js';
import {
  attempt,
  connection,
  sleep,
  startReadyLoad,
  type BenchContext,
  type Metrics,
  type Row,
  type Scenario,
  type ScenarioOutcome,
} from './scenario.js';

const SHARE_WINDOW_MS = 1000;

/** After every noisy client is logged in: time for queues and the adaptive limit to settle. */
function warmupSeconds(ctx: BenchContext): number {
  return ctx.options.quick ? 1 : 2;
}

/** The victim's latencies (ms, from the scheduled start), goodput and errors. */
function victimStats(result: PgbenchResult, seconds: number, aloneP99?: number): Metrics {
  const ok = result.transactions.filter((t) => t.status === 'ok').map((t) => t.latencyUs / 1000);
  const s = summarize(ok);
  const errors = result.summary.failed + result.summary.abortedClients + result.summary.connectFailures;
  return {
    victimTxns: s.count,
    victimP50: s.p50,
    victimP99: s.p99,
    victimP999: s.p999,
    victimI99: ratio(s.p99, aloneP99),
    victimGoodput: s.count / (VICTIM.rate * seconds),
    victimErrors: errors,
    victimError: result.summary.errors[0] ?? null,
  };
}

function victimRun(ctx: BenchContext, endpoint: Endpoint): Promise<PgbenchResult> {
  const spec = { clients: VICTIM.clients, threads: 1, seconds: ctx.options.seconds, rate: VICTIM.rate, log: true };
  return runPgbench(ctx.cleanup, connection(endpoint, ctx, VICTIM.role), spec, ctx.options.fdLimit);
}

function rolesOf(plan: NoisyPlan): Role[] {
  return [...new Set<Role>([VICTIM.role, ...plan.loads.map((l) => l.role), ...(plan.open ? [plan.open.role] : [])])];
}

/** Utilisation, and with `plan.shares` the share errors, from the samples taken while the victim's window ran. */
function slotStats(plan: NoisyPlan, samples: readonly ActivitySample[], budget: number, direct: boolean): Metrics {
  const busy = meanBusy(samples, rolesOf(plan));
  const row: Metrics = { busyMean: busy, utilisation: direct ? null : busy / budget };
  if (!plan.shares) return row;
  const roles = plan.loads.map((l) => l.role);
  const weights = plan.loads.map((l) => l.weight ?? 1);
  const windows = busyPerWindow(samples, roles, SHARE_WINDOW_MS);
  const whole = shareReport(
    roles.map((_, i) => windows.reduce((sum, w) => sum + w[i]!, 0)),
    weights,
  );
  const perWindow = Float64Array.from(windowShareErrors(windows, weights)).sort();
  return {
    ...row,
    shares: whole.shares.map((s) => (s * 100).toFixed(1)).join(' / '),
    shareMaxError: whole.maxError,
    shareWindowMedian: percentile(perWindow, 0.5),
    shareWindowP95: percentile(perWindow, 0.95),
    jain: whole.jain,
  };
}

function overloadStats(report: OverloadReport): Metrics {
  const { seconds } = report;
  const rejected = Object.values(report.rejected).reduce((a, b) => a + b, 0);
  return {
    offeredPerS: report.offered / seconds,
    servedPerS: report.ok / seconds,
    rejected,
    rejectCodes: Object.entries(report.rejected)
      .map(([code, n]) => `${code}×${n}`)
      .join(' '),
    rejectP50: report.rejectMs.p50,
    rejectP99: report.rejectMs.p99,
    unsent: report.unsent,
    closedByServer: report.closedByServer,
    generatorLagP99: report.loopDelayMs.p99,
    generatorCpuPct: report.cpuPct,
  };
}

/** Logins Postgres has seen in database app (pg_stat_database.sessions, PG 14+); churn shows as a rate. */
async function sessions(admin: pg.Client): Promise<number> {
  const { rows } = await admin.query<{ n: string }>(`SELECT sessions AS n FROM pg_stat_database WHERE datname = $1`, [DATABASE]);
  return Number(rows[0]?.n ?? NaN);
}

/** Starts the noisy tenants and resolves once every one of them is logged in and sending. */
async function startNoise(ctx: BenchContext, endpoint: Endpoint, plan: NoisyPlan) {
  const closed = plan.loads.map((l) =>
    startPgbench(
      ctx.cleanup,
      connection(endpoint, ctx, l.role),
      { clients: l.clients, threads: 1, seconds: ctx.options.seconds + 60, script: l.script, open: true },
      ctx.options.fdLimit,
    ),
  );
  const open = plan.open
    ? startReadyLoad<unknown, OverloadReport>(ctx, 'overload', {
        ...connection(endpoint, ctx, plan.open.role),
        ...plan.open,
        warmupMs: warmupSeconds(ctx) * 1000,
      })
    : undefined;
  try {
    await Promise.all([...closed.map((c) => c.loggedIn), open?.ready]);
  } catch (err) {
    await Promise.all([...closed.map((c) => c.stop()), open?.stop().catch(() => undefined)]);
    throw err;
  }
  return {
    async stop() {
      const [results, report] = await Promise.all([Promise.all(closed.map((c) => c.stop())), open?.stop()]);
      const noisyTps = results.reduce((sum, r) => sum + (steadyState(r.progress).tps || 0), 0) + (report ? report.ok / report.seconds : 0);
      return { noisyTps, noisyError: results.find((r) => r.summary.abortedClients > 0)?.summary.errors[0] ?? null, report };
    },
  };
}

async function measure(ctx: BenchContext, target: Target, plan: NoisyPlan, aloneP99: number | undefined): Promise<Row> {
  const endpoint = await target.start(plan.setup);
  const { seconds } = ctx.options;
  const admin = await ctx.postgres.connect();
  try {
    const pid = endpoint.pid;
    const rss = pid ? watchPeakRss(pid, ctx.units) : undefined;
    const rssBeforeMb = pid ? rssMegabytes(await readProcStat(pid), ctx.units) : null;
    const noise = await startNoise(ctx, endpoint, plan);
    await sleep(warmupSeconds(ctx) * 1000);
    const t0 = performance.now();
    const sampler = startActivitySampler(admin, rolesOf(plan));
    const sessionsBefore = await sessions(admin);
    const cpuBefore = pid ? await readProcStat(pid) : undefined;
    const victim = plan.victim ? await victimRun(ctx, endpoint) : await sleep(seconds * 1000);
    const cpuAfter = pid ? await readProcStat(pid) : undefined;
    const windowS = (performance.now() - t0) / 1000;
    const serverLoginsPerS = ((await sessions(admin)) - sessionsBefore) / windowS;
    const samples = await sampler.stop();
    const { noisyTps, noisyError, report } = await noise.stop();
    return {
      ...(victim ? victimStats(victim, seconds, aloneP99) : {}),
      ...slotStats(plan, samples, plan.setup.budget, !pid),
      ...(report ? overloadStats(report) : {}),
      variant: plan.variant,
      target: target.name,
      noisyTps,
      noisyError,
      serverLoginsPerS,
      poolerCpuPct: cpuBefore && cpuAfter ? cpuMicros(cpuBefore, cpuAfter, ctx.units) / (windowS * 1e4) : null,
      rssBeforeMb,
      rssPeakMb: rss ? await rss.stop() : null,
    };
  } finally {
    await admin.end().catch(() => undefined);
  }
}

async function aloneBaseline(ctx: BenchContext, target: Target, defaults: boolean): Promise<Row> {
  const endpoint = await target.start(defaults ? DEFAULTS_ALONE_SETUP : ALONE_SETUP);
  const row = victimStats(await victimRun(ctx, endpoint), ctx.options.seconds);
  return { ...row, variant: defaults ? 'alone-defaults' : 'alone', target: target.name, victimI99: 1 };
}

/** BENCH_NOISY=overload,slot-hog runs only those variants (the victim-alone baselines they need always run). */
function chosenPlans(): NoisyPlan[] {
  const only = process.env.BENCH_NOISY?.split(',')
    .map((v) => v.trim())
    .filter(Boolean);
  return only?.length ? NOISY_PLANS.filter((p) => only.includes(p.variant)) : NOISY_PLANS;
}

/** BENCH_ROUNDS=3 measures everything three times; rounds alternate the order of the targets (a busy spell falls on each). */
function rounds(): number {
  const n = Number(process.env.BENCH_ROUNDS ?? 1);
  return Number.isInteger(n) && n >= 1 ? n : 1;
}

async function runTarget(ctx: BenchContext, target: Target, round: number): Promise<Row[]> {
  const rows: Row[] = [];
  const plans = chosenPlans();
  const baselines = new Map<boolean, Row>();
  for (const defaults of [false, true]) {
    if (!plans.some((p) => p.victim && (p.defaults ?? false) === defaults)) continue;
    const alone = await attempt(ctx, defaults ? 'alone-defaults' : 'alone', target.name, () => aloneBaseline(ctx, target, defaults));
    baselines.set(defaults, alone);
    rows.push({ ...alone, round });
    ctx.progress(`  ${alone.variant}: victim p99 ${(alone.victimP99 as number)?.toFixed?.(2)} ms`);
  }
  for (const plan of plans) {
    const aloneP99 = baselines.get(plan.defaults ?? false)?.victimP99 as number | undefined;
    const row = await attempt(ctx, plan.variant, target.name, () => measure(ctx, target, plan, aloneP99));
    ctx.progress(
      `  ${plan.variant}: victim p99 ${(row.victimP99 as number)?.toFixed?.(2) ?? '-'} ms, noisy tps ${(row.noisyTps as number)?.toFixed?.(1)}, busy ${(row.busyMean as number)?.toFixed?.(1)}`,
    );
    rows.push({ ...row, round });
  }
  await target.stop();
  return rows;
}

async function run(ctx: BenchContext): Promise<ScenarioOutcome> {
  const rows: Row[] = [];
  const n = rounds();
  for (let round = 1; round <= n; round++) {
    const order = round % 2 === 1 ? ctx.targets : [...ctx.targets].reverse();
    for (const target of order) {
      ctx.progress(`noisy neighbour via ${target.name}, round ${round}/${n}`);
      rows.push(...(await runTarget(ctx, target, round)));
    }
  }
  return { rows, notes: notes(ctx) };
}

function notes(ctx: BenchContext): string[] {
  const base = ALONE_SETUP;
  return [
    `Each run: the noisy tenants log in and start; ${warmupSeconds(ctx)} s after the last login the victim runs for ${ctx.options.seconds} s: pgbench select-only, ${VICTIM.clients} clients, open loop at ${VICTIM.rate} tps (-R), latency from each transaction's scheduled start (-l).`,
    `Poolers: pool size ${base.poolSize} per (database, role), shared budget ${base.budget} (PgBouncer max_db_connections, Sluice max_server_connections), query_wait_timeout ${base.queryWaitTimeoutS} s. Each tenant logs in as its own role.`,
    "Sluice: scheduler fair, tenant = login role, headroom 2-4; CPU hog: the noisy role's class is elastic with adaptive_limit on; shares: weights 1:2:4; overload: the noisy tenant's max_queue is 40.",
    'Rows marked defaults (cpu-hog-untagged, slot-hog-defaults, cpu-hog-idle) run Sluice with `scheduler: {mode: fair}` and three tenants of weight 1, nothing else; their I99 is against `alone-defaults`. cpu-hog-idle-off is the same with `long_threshold: 0, adaptive_limit: false`: the behaviour before issue 16.',
    `Rounds: ${rounds()} (BENCH_ROUNDS); odd rounds run the targets in report order, even rounds in reverse. The spread table gives the median and [min-max] over rounds.`,
    "I99 = victim p99 / victim p99 alone through the same target. Goodput: victim transactions completed / scheduled. Busy, utilisation and shares come from pg_stat_activity sampled every 50 ms during the victim's window (backends in a transaction); utilisation = busy / budget. Pooler CPU: its user+system time over the same window (100% = one core). Server logins/s: new Postgres sessions in the window (pg_stat_database.sessions), i.e. connection churn.",
    "Share error: |achieved share / entitled share − 1|, worst tenant, over the whole window and per 1 s window (median, p95); Jain's index over achieved / entitled.",
    'Direct Postgres has no budget: every client is a backend, so its utilisation is not comparable.',
  ];
}

export const noisy: Scenario = { name: 'noisy', title: 'Noisy neighbour', run, render: renderNoisy };
