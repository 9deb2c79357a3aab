// Scenario 3: connection storm. 2,000 clients log in with SCRAM at once and run one query each.
import { cpuMicros, readProcStat, watchPeakRss } from '../core/proc-stat.js';
import type { StormReport } from '../load/storm.js';
import { Footnotes, ms, NOT_RUN, num, section, table } from '../report/markdown.js';
import { DEFAULT_POOL, TARGET_LABELS, type Target } from '../targets/target.js';
import { attempt, connection, runLoad, type BenchContext, type Row, type Scenario, type ScenarioOutcome } from './scenario.js';

export const STORM_CLIENTS = 2000;
const SQL = 'SELECT 1';

async function measure(ctx: BenchContext, target: Target): Promise<Row> {
  const endpoint = await target.start(DEFAULT_POOL);
  const pid = endpoint.pid!;
  const rss = watchPeakRss(pid, ctx.units);
  const before = await readProcStat(pid);
  const report = await runLoad<StormReport>(
    ctx,
    'storm',
    { ...connection(endpoint, ctx, 'bench'), clients: STORM_CLIENTS, sql: SQL },
    180_000,
  );
  const after = await readProcStat(pid);
  const cpuUs = cpuMicros(before, after, ctx.units);
  const errors = Object.entries(report.errors)
    .map(([m, n]) => `${n}× ${m}`)
    .join('; ');
  return {
    variant: 'storm',
    target: target.name,
    clients: report.clients,
    connected: report.connected,
    queried: report.queried,
    connectP50: report.connectMs.p50,
    connectP99: report.connectMs.p99,
    connectMax: report.connectMs.max,
    queryP99: report.queryMs.p99,
    wallMs: report.wallMs,
    cpuMs: cpuUs / 1000,
    cpuUsPerClient: cpuUs / STORM_CLIENTS,
    rssPeakMb: await rss.stop(),
    errors: errors || null,
  };
}

async function run(ctx: BenchContext): Promise<ScenarioOutcome> {
  const rows: Row[] = [];
  for (const target of ctx.targets) {
    if (target.name === 'direct') {
      rows.push({
        variant: 'storm',
        target: target.name,
        error: `${NOT_RUN}${STORM_CLIENTS} connections need a pooler (the bench's Postgres allows 1,100).`,
      });
      continue;
    }
    ctx.progress(`connection storm via ${target.name}`);
    const row = await attempt(ctx, 'storm', target.name, () => measure(ctx, target));
    ctx.progress(`  connect p99 ${ms(row.connectP99)} ms, ${num(row.connected)} connected, CPU ${num(row.cpuMs)} ms`);
    rows.push(row);
    await target.stop();
  }
  return {
    rows,
    notes: [
      `${STORM_CLIENTS} clients start at once from one generator process (raw protocol, SCRAM-SHA-256 with the key derivation cached client-side, so the generator's CPU goes to sockets). Each logs in, runs \`${SQL}\`, and stays connected until all are done.`,
      'Connect: from the TCP connect to the first ReadyForQuery. Query: from then to the answer. Pooler CPU: user+system time from /proc/<pid>/stat over the whole storm.',
      `Poolers: pool size ${DEFAULT_POOL.poolSize}, budget ${DEFAULT_POOL.budget}, max_client_conn ${DEFAULT_POOL.maxClientConn}.`,
    ],
  };
}

function render(outcome: ScenarioOutcome): string {
  const foot = new Footnotes();
  const headers = [
    'target',
    'connected',
    'connect p50 ms',
    'connect p99 ms',
    'connect max ms',
    'query p99 ms',
    'storm wall ms',
    'pooler CPU ms',
    'CPU µs/client',
    'RSS peak MB',
    'errors',
  ];
  const body = outcome.rows.map((r) => [
    TARGET_LABELS[r.target],
    foot.cell(r, (x) => `${num(x.connected)} / ${num(x.clients)}`),
    foot.cell(r, (x) => ms(x.connectP50)),
    foot.cell(r, (x) => ms(x.connectP99)),
    foot.cell(r, (x) => ms(x.connectMax)),
    foot.cell(r, (x) => ms(x.queryP99)),
    foot.cell(r, (x) => num(x.wallMs)),
    foot.cell(r, (x) => num(x.cpuMs)),
    foot.cell(r, (x) => num(x.cpuUsPerClient)),
    foot.cell(r, (x) => num(x.rssPeakMb, 1)),
    foot.cell(r, (x) => String(x.errors ?? 'none')),
  ]);
  return section('3. Connection storm', [table(headers, body)], outcome.notes, foot);
}

export const storm: Scenario = { name: 'storm', title: 'Connection storm', run, render };
