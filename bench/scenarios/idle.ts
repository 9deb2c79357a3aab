// Scenario 4: idle clients. 10,000 logged-in idle clients; the pooler's memory and an active client's latency beside them.
import { runPgbench } from '../core/pgbench.js';
import { readProcStat, rssMegabytes } from '../core/proc-stat.js';
import { summarize } from '../core/stats.js';
import type { IdleReport } from '../load/idle.js';
import { Footnotes, ms, NOT_RUN, num, section, table } from '../report/markdown.js';
import { DEFAULT_POOL, TARGET_LABELS, type Endpoint, type Target } from '../targets/target.js';
import {
  attempt,
  connection,
  sleep,
  startReadyLoad,
  type BenchContext,
  type Row,
  type Scenario,
  type ScenarioOutcome,
} from './scenario.js';

const LOGIN_CONCURRENCY = 100;

/** One client running select-only back to back: its latency percentiles (ms). */
async function activeClient(ctx: BenchContext, endpoint: Endpoint): Promise<{ p50: number; p99: number; tps: number }> {
  const spec = { clients: 1, threads: 1, seconds: ctx.options.seconds, log: true, mode: 'extended' as const };
  const result = await runPgbench(ctx.cleanup, connection(endpoint, ctx, 'bench'), spec, ctx.options.fdLimit);
  const s = summarize(result.transactions.filter((t) => t.status === 'ok').map((t) => t.latencyUs / 1000));
  return { p50: s.p50, p99: s.p99, tps: result.summary.tps };
}

async function measure(ctx: BenchContext, target: Target): Promise<Row> {
  const endpoint = await target.start(DEFAULT_POOL);
  const pid = endpoint.pid!;
  const rss = async () => rssMegabytes(await readProcStat(pid), ctx.units);
  const alone = await activeClient(ctx, endpoint);
  const rssBeforeMb = await rss();
  const spec = { ...connection(endpoint, ctx, 'noisy'), clients: ctx.options.idleClients, concurrency: LOGIN_CONCURRENCY };
  const crowd = startReadyLoad<IdleReport, IdleReport>(ctx, 'idle', spec);
  try {
    const report = await crowd.ready; // Printed once every client has tried to log in.
    await sleep(1000); // Let the pooler settle after the logins before reading its memory.
    const rssIdleMb = await rss();
    const beside = await activeClient(ctx, endpoint);
    const errors = Object.entries(report.errors)
      .map(([m, n]) => `${n}× ${m}`)
      .join('; ');
    return {
      variant: 'idle',
      target: target.name,
      idleConnected: report.connected,
      idleFailed: report.failed,
      loginWallMs: report.connectWallMs,
      rssBeforeMb,
      rssIdleMb,
      rssAfterMb: await rss(),
      kbPerIdleClient: ((rssIdleMb - rssBeforeMb) * 1024) / Math.max(1, report.connected),
      aloneP50: alone.p50,
      aloneP99: alone.p99,
      besideP50: beside.p50,
      besideP99: beside.p99,
      aloneTps: alone.tps,
      besideTps: beside.tps,
      errors: errors || null,
    };
  } finally {
    await crowd.stop().catch(() => undefined);
  }
}

async function run(ctx: BenchContext): Promise<ScenarioOutcome> {
  const rows: Row[] = [];
  for (const target of ctx.targets) {
    if (target.name === 'direct') {
      rows.push({
        variant: 'idle',
        target: target.name,
        error: `${NOT_RUN}${num(ctx.options.idleClients)} connections need a pooler (the bench's Postgres allows 1,100).`,
      });
      continue;
    }
    ctx.progress(`idle clients via ${target.name}`);
    const row = await attempt(ctx, 'idle', target.name, () => measure(ctx, target));
    ctx.progress(`  ${num(row.idleConnected)} idle, RSS ${num(row.rssIdleMb)} MB, active p99 ${ms(row.besideP99)} ms`);
    rows.push(row);
    await target.stop();
  }
  const notes = [
    `${num(ctx.options.idleClients)} clients log in with SCRAM (${LOGIN_CONCURRENCY} logins in flight at a time) and stay idle.`,
    `Active client: one pgbench client, select-only, extended protocol, ${ctx.options.seconds} s back to back; before the crowd ("alone") and beside it.`,
    'RSS from /proc/<pid>/stat: before the crowd, 1 s after the last login, and after the second active run.',
  ];
  if (ctx.options.quick) notes.push(`A quick smoke run connects ${num(ctx.options.idleClients)} idle clients, not 10,000.`);
  else if (ctx.options.idleClients < 10_000)
    notes.push(
      `Fewer than 10,000 idle clients: the open-files hard limit here allows ${num(ctx.options.idleClients)} (raise \`ulimit -Hn\` to run the full count).`,
    );
  return { rows, notes };
}

function render(outcome: ScenarioOutcome): string {
  const foot = new Footnotes();
  const headers = [
    'target',
    'idle clients',
    'login wall s',
    'RSS before MB',
    'RSS with idle MB',
    'KB per idle client',
    'active p50 ms alone',
    'active p50 ms beside',
    'active p99 ms alone',
    'active p99 ms beside',
    'errors',
  ];
  const body = outcome.rows.map((r) => [
    TARGET_LABELS[r.target],
    foot.cell(r, (x) => `${num(x.idleConnected)}${x.idleFailed ? ` (+${num(x.idleFailed)} failed)` : ''}`),
    foot.cell(r, (x) => num((x.loginWallMs as number) / 1000, 1)),
    foot.cell(r, (x) => num(x.rssBeforeMb, 1)),
    foot.cell(r, (x) => num(x.rssIdleMb, 1)),
    foot.cell(r, (x) => num(x.kbPerIdleClient, 1)),
    foot.cell(r, (x) => ms(x.aloneP50)),
    foot.cell(r, (x) => ms(x.besideP50)),
    foot.cell(r, (x) => ms(x.aloneP99)),
    foot.cell(r, (x) => ms(x.besideP99)),
    foot.cell(r, (x) => String(x.errors ?? 'none')),
  ]);
  return section('4. Idle clients', [table(headers, body)], outcome.notes, foot);
}

export const idle: Scenario = { name: 'idle', title: 'Idle clients', run, render };
