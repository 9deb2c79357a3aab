// Scenario 5: end to end over HTTP. The example multi-tenant API on `pg`; autocannon drives a victim and a noisy tenant.
import path from 'node:path';
import { startChild, type Child } from '../core/child.js';
import type { HttpDriveReport, HttpDriveSpec } from '../load/http-drive.js';
import { Footnotes, ms, num, section, table, times } from '../report/markdown.js';
import { DATABASE } from '../targets/bench-postgres.js';
import { DEFAULT_POOL, TARGET_LABELS, type Endpoint, type PoolSetup, type Target } from '../targets/target.js';
import { attempt, runLoad, type BenchContext, type Row, type Scenario, type ScenarioOutcome } from './scenario.js';

const APP = 'examples/multi-tenant-http-api.js';
const VICTIM_RATE = 100;
const VICTIM_CONNECTIONS = 20;
const NOISY_CONNECTIONS = 100;
const APP_POOL_MAX = 20;

/** Sluice: tenants by login role; the report endpoint's tagged class runs in the long lane. */
export const HTTP_SETUP: PoolSetup = {
  ...DEFAULT_POOL,
  queryWaitTimeoutS: 30,
  sluice: { scheduler: { mode: 'fair', headroom_min: 2, headroom_max: 4 }, tenant_key: 'user', classes: { report: { lane: 'long' } } },
};

/**
 * The same, with the report class also elastic under the adaptive limit: the report queries contend for
 * CPU, not for slots, so only a limit that follows server latency keeps the victim's p99 down.
 */
export const HTTP_ELASTIC_SETUP: PoolSetup = {
  ...HTTP_SETUP,
  sluice: {
    ...HTTP_SETUP.sluice,
    scheduler: { mode: 'fair', headroom_min: 2, headroom_max: 4, adaptive_limit: true },
    classes: { report: { lane: 'long', elastic: true } },
  },
};

/** Each target runs once with HTTP_SETUP; Sluice runs again with the report class elastic. */
const CONFIGS: Array<{ config: string; setup: PoolSetup; only?: Target['name'] }> = [
  { config: 'long lane', setup: HTTP_SETUP },
  { config: 'long lane, elastic', setup: HTTP_ELASTIC_SETUP, only: 'sluice' },
];

async function startApp(ctx: BenchContext, endpoint: Endpoint): Promise<{ app: Child; baseUrl: string }> {
  let onUrl: (url: string) => void = () => undefined;
  const listening = new Promise<string>((resolve) => (onUrl = resolve));
  const pw = ctx.postgres.password;
  const app = startChild(ctx.cleanup, process.execPath, [path.join(ctx.rootDir, APP)], {
    env: {
      ...process.env,
      PGHOST: endpoint.host,
      PGPORT: String(endpoint.port),
      PGDATABASE: DATABASE,
      PORT: '0',
      TENANTS: `victim:${pw.victim},noisy:${pw.noisy}`,
      POOL_MAX: String(APP_POOL_MAX),
    },
    onLine: (line) => {
      const m = /listening on (http:\/\/\S+)/.exec(line);
      if (m) onUrl(m[1]!);
    },
  });
  const baseUrl = await Promise.race([
    listening,
    app.done.then((r) => {
      throw new Error(`the example app exited (${r.code}): ${r.stderr.trim().slice(-300)}`);
    }),
  ]);
  return { app, baseUrl };
}

function drive(ctx: BenchContext, baseUrl: string, withNoisy: boolean): Promise<HttpDriveReport> {
  const spec: HttpDriveSpec = {
    baseUrl,
    seconds: ctx.options.seconds,
    warmupSeconds: ctx.options.quick ? 1 : 2,
    victimPath: '/tenants/victim/balance',
    victimConnections: VICTIM_CONNECTIONS,
    victimRate: VICTIM_RATE,
    noisy: withNoisy ? { path: '/tenants/noisy/report', connections: NOISY_CONNECTIONS } : undefined,
  };
  return runLoad<HttpDriveReport>(ctx, 'http-drive', spec, (ctx.options.seconds + 120) * 1000);
}

async function measure(ctx: BenchContext, target: Target, setup: PoolSetup, config: string): Promise<Row[]> {
  const endpoint = await target.start(setup);
  const { app, baseUrl } = await startApp(ctx, endpoint);
  try {
    const alone = await drive(ctx, baseUrl, false);
    const noisy = await drive(ctx, baseUrl, true);
    const row = (variant: string, r: HttpDriveReport): Row => ({
      variant,
      target: target.name,
      config,
      victimP50: r.victim.p50,
      victimP99: r.victim.p99,
      victimP999: r.victim.p999,
      victimRps: r.victim.rps,
      victimFailed: r.victim.non2xx + r.victim.errors + r.victim.timeouts,
      noisyRps: r.noisy?.rps ?? null,
      noisyFailed: r.noisy ? r.noisy.non2xx + r.noisy.errors + r.noisy.timeouts : null,
    });
    return [row('alone', alone), { ...row('noisy', noisy), victimI99: noisy.victim.p99 / alone.victim.p99 }];
  } finally {
    await app.stop('SIGTERM');
  }
}

async function run(ctx: BenchContext): Promise<ScenarioOutcome> {
  const rows: Row[] = [];
  for (const target of ctx.targets) {
    for (const { config, setup, only } of CONFIGS) {
      if (only && only !== target.name) continue;
      ctx.progress(`HTTP end to end via ${target.name}${only ? ` (${config})` : ''}`);
      let measured: Row[] = [];
      const failed = await attempt(ctx, 'noisy', target.name, async () => {
        measured = await measure(ctx, target, setup, config);
        return measured[1]!;
      });
      rows.push(...(failed.error ? [{ ...failed, config }] : measured));
      ctx.progress(`  victim p99 alone ${ms(measured[0]?.victimP99)} ms, beside the noisy tenant ${ms(measured[1]?.victimP99)} ms`);
      await target.stop();
    }
  }
  return {
    rows,
    notes: [
      `App: \`${APP}\` (node:http + pg.Pool of ${APP_POOL_MAX} per tenant), each tenant logging in as its own role.`,
      `Victim: GET /tenants/victim/balance (a primary-key read), autocannon, ${VICTIM_CONNECTIONS} connections at ${VICTIM_RATE} req/s, latency corrected for coordinated omission, measured after an unmeasured warm-up (the app's pools log in on first use). Noisy: GET /tenants/noisy/report (a 100,000-row aggregate), ${NOISY_CONNECTIONS} connections, closed loop, started before the victim's warm-up.`,
      `Poolers: pool size ${HTTP_SETUP.poolSize}, budget ${HTTP_SETUP.budget}. Sluice: fair scheduling by role; the report query's \`/* sluice:class=report */\` tag puts it in class \`report\`, lane long (headroom 2-4). "Sluice, elastic": the same, with class \`report\` also elastic and \`adaptive_limit\` on, as an operator would set it for CPU-heavy reports.`,
    ],
  };
}

function render(outcome: ScenarioOutcome): string {
  const foot = new Footnotes();
  const headers = [
    'target',
    'run',
    'victim p50 ms',
    'victim p99 ms',
    'victim p99.9 ms',
    'I99',
    'victim req/s',
    'victim failed',
    'noisy req/s',
    'noisy failed',
  ];
  const body = outcome.rows.map((r) => [
    r.target === 'sluice' && r.config !== CONFIGS[0]!.config ? `${TARGET_LABELS[r.target]}, elastic` : TARGET_LABELS[r.target],
    r.variant === 'alone' ? 'victim alone' : 'beside the noisy tenant',
    foot.cell(r, (x) => ms(x.victimP50)),
    foot.cell(r, (x) => ms(x.victimP99)),
    foot.cell(r, (x) => ms(x.victimP999)),
    foot.cell(r, (x) => times(x.victimI99)),
    foot.cell(r, (x) => num(x.victimRps)),
    foot.cell(r, (x) => num(x.victimFailed)),
    foot.cell(r, (x) => num(x.noisyRps)),
    foot.cell(r, (x) => num(x.noisyFailed)),
  ]);
  return section('5. End to end over HTTP', [table(headers, body)], outcome.notes, foot);
}

export const http: Scenario = { name: 'http', title: 'End to end over HTTP', run, render };
