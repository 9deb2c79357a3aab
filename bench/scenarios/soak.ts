// Scenario: soak. A mixed load with clients coming and going runs for minutes while Sluice's RSS and heap are sampled; after warm-up both should stay flat.
import { freePort } from '../../lib/local-postgres/instance.js';
import { Footnotes, NOT_RUN, num, section, table } from '../report/markdown.js';
import { sampleMemory, slopePerMinute, sparkline, type MemorySample } from '../soak/soak-samples.js';
import { SoakWorkload } from '../soak/soak-workload.js';
import { DEFAULT_POOL, TARGET_LABELS, type Target } from '../targets/target.js';
import { attemptRows, connection, sleep, type BenchContext, type Row, type Scenario, type ScenarioOutcome } from './scenario.js';

const STEADY_CLIENTS = 20;
/** The first fifth of the run (at least 30 s) is warm-up: JIT, pools filling, the statement cache. */
const WARM_UP_SHARE = 0.2;
const MIN_WARM_UP_S = 30;
const TABLE_ROWS = 20;

function sampleEvery(seconds: number): number {
  return seconds <= 120 ? 2 : 5;
}

async function measure(ctx: BenchContext, target: Target): Promise<Row[]> {
  const httpPort = await freePort();
  const endpoint = await target.start({ ...DEFAULT_POOL, sluice: { admin_http: { listen_addr: '127.0.0.1', port: httpPort } } });
  const url = `http://127.0.0.1:${httpPort}/metrics`;
  const seconds = ctx.options.soakSeconds;
  const started = performance.now();
  const elapsed = () => (performance.now() - started) / 1000;
  const work = new SoakWorkload(connection(endpoint, ctx, 'bench'), STEADY_CLIENTS);
  const samples: MemorySample[] = [];
  while (elapsed() < seconds) {
    samples.push(await sampleMemory(endpoint.pid!, ctx.units, url, elapsed(), work.counts.transactions));
    if (samples.length % 12 === 0)
      ctx.progress(`  ${num(elapsed())} s: RSS ${num(samples.at(-1)!.rssMb, 1)} MB, heap ${num(samples.at(-1)!.heapUsedMb, 1)} MB`);
    await sleep(sampleEvery(seconds) * 1000);
  }
  await work.stop();
  await sleep(2000); // The clients are gone: what stays is what Sluice keeps.
  const after = await sampleMemory(endpoint.pid!, ctx.units, url, elapsed(), work.counts.transactions);
  return [summary(samples, after, work, seconds), ...samples.map((s) => ({ variant: 'sample', target: target.name, ...s }))].map((r) => ({
    ...r,
    target: target.name,
  }));
}

function summary(samples: MemorySample[], after: MemorySample, work: SoakWorkload, seconds: number): Row {
  const warm = Math.max(MIN_WARM_UP_S, seconds * WARM_UP_SHARE);
  const steady = samples.filter((s) => s.t >= warm);
  const heapPoints = steady.filter((s) => s.heapUsedMb !== null).map((s) => ({ t: s.t, v: s.heapUsedMb! }));
  return {
    variant: 'summary',
    target: 'sluice',
    seconds,
    warmUpS: warm,
    transactions: work.counts.transactions,
    connects: work.counts.connects,
    abrupt: work.counts.abrupt,
    errors: work.counts.errors,
    errorSample: work.counts.errorSample.join('; ') || null,
    rssStartMb: samples[0]?.rssMb,
    rssWarmMb: steady[0]?.rssMb,
    rssPeakMb: Math.max(...samples.map((s) => s.rssMb)),
    rssEndMb: samples.at(-1)?.rssMb,
    rssAfterMb: after.rssMb,
    heapAfterMb: after.heapUsedMb,
    rssSlope: slopePerMinute(steady.map((s) => ({ t: s.t, v: s.rssMb }))),
    heapSlope: slopePerMinute(heapPoints),
    rssPlot: sparkline(samples.map((s) => s.rssMb)),
    heapPlot: heapPoints.length ? sparkline(samples.map((s) => s.heapUsedMb ?? 0)) : null,
  };
}

async function run(ctx: BenchContext): Promise<ScenarioOutcome> {
  const rows: Row[] = [];
  for (const target of ctx.targets) {
    if (target.name !== 'sluice') continue;
    ctx.progress(`soak via ${target.name} for ${ctx.options.soakSeconds} s`);
    rows.push(...(await attemptRows(ctx, 'summary', target.name, () => measure(ctx, target))));
    await target.stop();
  }
  if (rows.length === 0)
    rows.push({
      variant: 'summary',
      target: 'sluice',
      error: `${NOT_RUN}the soak measures Sluice's own memory; run it with --targets sluice.`,
    });
  return {
    rows,
    notes: [
      `${STEADY_CLIENTS} steady clients (pg), each a transaction every ~10 ms: a simple SELECT, an extended one, one of 64 named prepared statements, an UPDATE transaction, or a SET application_name. Beside them a client arrives every 100 ms, runs 1–5 transactions and leaves; one in four drops its socket without Terminate.`,
      "RSS from /proc/<pid>/stat; heap is V8's used heap from Sluice's /metrics (`sluice_nodejs_heap_size_used_bytes`). **Slope**: least-squares trend after warm-up, MB per minute; flat is within noise of 0. **after**: 2 s after every client left.",
    ],
  };
}

function thinned(samples: Row[]): Row[] {
  const step = Math.max(1, Math.ceil(samples.length / TABLE_ROWS));
  return samples.filter((_, i) => i % step === 0 || i === samples.length - 1);
}

function render(outcome: ScenarioOutcome): string {
  const foot = new Footnotes();
  const s = outcome.rows.find((r) => r.variant === 'summary');
  const head = [
    'target',
    'seconds',
    'transactions',
    'client logins (abrupt)',
    'errors',
    'RSS start / after warm-up / peak / end / after MB',
    'RSS slope MB/min',
    'heap slope MB/min',
  ];
  const summaryRow = [
    TARGET_LABELS.sluice,
    foot.cell(s, (x) => num(x.seconds)),
    foot.cell(s, (x) => num(x.transactions)),
    foot.cell(s, (x) => `${num(x.connects)} (${num(x.abrupt)})`),
    foot.cell(s, (x) => `${num(x.errors)}${x.errorSample ? ` (${x.errorSample})` : ''}`),
    foot.cell(s, (x) => [x.rssStartMb, x.rssWarmMb, x.rssPeakMb, x.rssEndMb, x.rssAfterMb].map((v) => num(v, 1)).join(' / ')),
    foot.cell(s, (x) => num(x.rssSlope, 2)),
    foot.cell(s, (x) => num(x.heapSlope, 2)),
  ];
  const samples = thinned(outcome.rows.filter((r) => r.variant === 'sample'));
  const sampleTable = table(
    ['t s', 'RSS MB', 'heap used MB', 'heap total MB', 'transactions'],
    samples.map((r) => [num(r.t), num(r.rssMb, 1), num(r.heapUsedMb, 1), num(r.heapTotalMb, 1), num(r.transactions)]),
  );
  const plots = s && !s.error ? ['', '```', `RSS  ${s.rssPlot}`, `heap ${s.heapPlot ?? ''}`, '```'] : [];
  return section('Soak', [table(head, [summaryRow]), '', sampleTable, ...plots], outcome.notes, foot);
}

export const soak: Scenario = { name: 'soak', title: 'Soak', run, render };
