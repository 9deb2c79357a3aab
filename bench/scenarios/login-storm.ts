// Scenario: a wrong-password storm from one address; a good client's login latency from another, before and during it.
import { cpuMicros, readProcStat } from '../core/proc-stat.js';
import type { AttackReport, GoodLoginReport } from '../load/login-storm.js';
import { Footnotes, ms, num, section, table } from '../report/markdown.js';
import { DEFAULT_POOL, TARGET_LABELS, type Endpoint, type PoolSetup, type Target } from '../targets/target.js';
import {
  attempt,
  connection,
  runLoad,
  sleep,
  startReadyLoad,
  type BenchContext,
  type Row,
  type Scenario,
  type ScenarioOutcome,
} from './scenario.js';

const GOOD_RATE = 20;
const ATTACKERS = 50;
/** Loopback answers on all of 127/8: the pooler sees the storm and the good client as two addresses. */
const ATTACK_ADDRESS = '127.0.0.2';
const GOOD_ADDRESS = '127.0.0.1';

interface Variant {
  name: string;
  target: Target;
  setup: PoolSetup;
}

function goodLogins(ctx: BenchContext, endpoint: Endpoint, seconds: number): Promise<GoodLoginReport> {
  const spec = { ...connection(endpoint, ctx, 'bench'), localAddress: GOOD_ADDRESS, role: 'good', rate: GOOD_RATE, seconds };
  return runLoad<GoodLoginReport>(ctx, 'login-storm', spec, (seconds + 60) * 1000);
}

function folded(counts: Record<string, number>): string | null {
  const parts = Object.entries(counts).map(([m, n]) => `${num(n)}× ${m}`);
  return parts.length ? parts.join('; ') : null;
}

async function measure(ctx: BenchContext, v: Variant): Promise<Row> {
  const endpoint = await v.target.start(v.setup);
  const seconds = ctx.options.seconds;
  const alone = await goodLogins(ctx, endpoint, seconds);
  const attackSpec = {
    ...connection(endpoint, ctx, 'bench'),
    password: 'not-the-password',
    localAddress: ATTACK_ADDRESS,
    role: 'attack',
    attackers: ATTACKERS,
  };
  const storm = startReadyLoad<unknown, AttackReport>(ctx, 'login-storm', attackSpec);
  try {
    await storm.ready;
    await sleep(1000); // Past the first failures, so the measurement sees the storm as it runs (locked out, where a lockout exists).
    const before = endpoint.pid ? await readProcStat(endpoint.pid) : null;
    const during = await goodLogins(ctx, endpoint, seconds);
    const cpuUs = before && endpoint.pid ? cpuMicros(before, await readProcStat(endpoint.pid), ctx.units) : NaN;
    const attack = await storm.stop();
    return {
      variant: v.name,
      target: v.target.name,
      aloneP50: alone.loginMs.p50,
      aloneP99: alone.loginMs.p99,
      stormP50: during.loginMs.p50,
      stormP99: during.loginMs.p99,
      stormMax: during.loginMs.max,
      goodLogins: alone.loginMs.count + during.loginMs.count,
      goodErrors: folded({ ...alone.errors, ...during.errors }),
      attackPerSecond: attack.perSecond,
      attackOutcomes: folded(attack.outcomes),
      poolerCpuPct: cpuUs / (seconds * 10_000),
    };
  } finally {
    await storm.stop().catch(() => undefined);
  }
}

function variantsOf(ctx: BenchContext): Variant[] {
  const out: Variant[] = [];
  for (const target of ctx.targets) {
    if (target.name === 'sluice') {
      out.push({ name: 'throttled (defaults)', target, setup: DEFAULT_POOL });
      out.push({ name: 'auth_failure_limit: 0', target, setup: { ...DEFAULT_POOL, sluice: { auth_failure_limit: 0 } } });
    } else {
      out.push({ name: 'defaults', target, setup: DEFAULT_POOL });
    }
  }
  return out;
}

async function run(ctx: BenchContext): Promise<ScenarioOutcome> {
  const rows: Row[] = [];
  for (const v of variantsOf(ctx)) {
    ctx.progress(`wrong-password storm via ${v.target.name} (${v.name})`);
    const row = await attempt(ctx, v.name, v.target.name, () => measure(ctx, v));
    ctx.progress(
      `  good login p50 ${ms(row.aloneP50)} → ${ms(row.stormP50)} ms, p99 ${ms(row.aloneP99)} → ${ms(row.stormP99)} ms; ${num(row.attackPerSecond)} attempts/s`,
    );
    rows.push(row);
    await v.target.stop();
  }
  return {
    rows,
    notes: [
      `Storm: ${ATTACKERS} connections from ${ATTACK_ADDRESS}, each logging in with a wrong password (SCRAM) and reconnecting as soon as it is refused, from their own process.`,
      `Good client: from ${GOOD_ADDRESS}, ${GOOD_RATE} logins per second (SCRAM, each on a new connection, closed after ReadyForQuery), ${ctx.options.seconds} s alone, then ${ctx.options.seconds} s starting 1 s into the storm. Login: from the TCP connect to the first ReadyForQuery.`,
      "Pooler CPU: user+system time of the pooler process during the good client's storm run, as a share of one core. Direct Postgres forks a backend per attempt; its CPU is not measured.",
    ],
  };
}

function render(outcome: ScenarioOutcome): string {
  const foot = new Footnotes();
  const headers = [
    'target',
    'setting',
    'good login p50 ms alone',
    'p50 during storm',
    'p99 alone',
    'p99 during storm',
    'good login errors',
    'storm attempts/s',
    'storm outcomes',
    'pooler CPU %',
  ];
  const body = outcome.rows.map((r) => [
    TARGET_LABELS[r.target],
    r.variant,
    foot.cell(r, (x) => ms(x.aloneP50)),
    foot.cell(r, (x) => ms(x.stormP50)),
    foot.cell(r, (x) => ms(x.aloneP99)),
    foot.cell(r, (x) => ms(x.stormP99)),
    foot.cell(r, (x) => String(x.goodErrors ?? 'none')),
    foot.cell(r, (x) => num(x.attackPerSecond)),
    foot.cell(r, (x) => String(x.attackOutcomes ?? '')),
    foot.cell(r, (x) => num(x.poolerCpuPct)),
  ]);
  return section('Wrong-password storm', [table(headers, body)], outcome.notes, foot);
}

export const loginStorm: Scenario = { name: 'logins', title: 'Wrong-password storm', run, render };
