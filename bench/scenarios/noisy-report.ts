// Owns the noisy-neighbour tables: victim latency per variant, weighted shares, and overload.
import { Footnotes, MISSING, ms, num, pct, section, table, times } from '../report/markdown.js';
import { TARGET_LABELS } from '../targets/target.js';
import { NOISY_PLANS } from './noisy-workloads.js';
import type { Row, ScenarioOutcome } from './scenario.js';

function label(variant: string): string {
  return variant === 'alone' ? 'victim alone' : variant === 'alone-defaults' ? 'victim alone (defaults)' : variant;
}

/** Variants whose victim does not run (the noisy load alone). */
const NO_VICTIM = new Set<string>(NOISY_PLANS.filter((p) => !p.victim).map((p) => p.variant));

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
}

/** `median [min-max]` of a figure over rounds, or one value when there was one round. */
function spread(xs: number[], fmt: (x: number) => string): string {
  const ok = xs.filter((x) => typeof x === 'number' && Number.isFinite(x));
  if (ok.length === 0) return MISSING;
  if (ok.length === 1) return fmt(ok[0]!);
  return `${fmt(median(ok))} [${fmt(Math.min(...ok))}-${fmt(Math.max(...ok))}]`;
}

/** One line per (variant, target) over every round: what the issue-16 criteria are judged on. */
function spreadTable(rows: readonly Row[]): string {
  const groups = new Map<string, Row[]>();
  for (const r of rows) {
    if (r.error || r.variant === 'shares' || r.variant === 'overload') continue;
    const key = `${r.variant}\u0000${r.target}`;
    groups.set(key, [...(groups.get(key) ?? []), r]);
  }
  const headers = ['variant', 'target', 'rounds', 'victim p50 ms', 'p99 ms', 'I99', 'victim failures', 'noisy tps'];
  const body = [...groups.values()].map((g) => {
    const hasVictim = !NO_VICTIM.has(g[0]!.variant);
    const f = (k: string, fmt: (x: number) => string) =>
      hasVictim
        ? spread(
            g.map((r) => r[k] as number),
            fmt,
          )
        : MISSING;
    const failures = g.reduce((n, r) => n + ((r.victimErrors as number) || 0) + (r.victimTxns === 0 ? 1 : 0), 0);
    return [
      label(g[0]!.variant),
      TARGET_LABELS[g[0]!.target],
      String(g.length),
      f('victimP50', (x) => ms(x)),
      f('victimP99', (x) => ms(x)),
      f('victimI99', (x) => times(x)),
      hasVictim ? num(failures) : MISSING,
      g[0]!.variant.startsWith('alone')
        ? MISSING
        : spread(
            g.map((r) => r.noisyTps as number),
            (x) => num(x),
          ),
    ];
  });
  return table(headers, body);
}

function victimTable(rows: readonly Row[], foot: Footnotes): string {
  const headers = [
    'variant',
    'target',
    'round',
    'victim p50 ms',
    'p99 ms',
    'p99.9 ms',
    'I99',
    'goodput',
    'victim errors',
    'noisy tps',
    'busy backends',
    'utilisation',
    'pooler CPU',
    'server logins/s',
  ];
  const body = rows
    .filter((r) => r.variant !== 'shares')
    .map((r) => {
      const hasVictim = !NO_VICTIM.has(r.variant);
      // A victim that completed nothing has no latency to show; its goodput column says 0%.
      const v = (f: (r: Row) => string) => foot.cell(r, (x) => (!hasVictim ? MISSING : x.victimTxns === 0 ? 'none done' : f(x)));
      const goodput = (f: (r: Row) => string) => foot.cell(r, (x) => (hasVictim ? f(x) : MISSING));
      return [
        label(r.variant),
        TARGET_LABELS[r.target],
        String(r.round ?? 1),
        v((x) => ms(x.victimP50)),
        v((x) => ms(x.victimP99)),
        v((x) => ms(x.victimP999)),
        v((x) => times(x.victimI99)),
        goodput((x) => pct(x.victimGoodput)),
        goodput((x) => num(x.victimErrors)),
        foot.cell(r, (x) => (x.variant.startsWith('alone') ? MISSING : num(x.noisyTps))),
        foot.cell(r, (x) => num(x.busyMean, 1)),
        foot.cell(r, (x) => pct(x.utilisation)),
        foot.cell(r, (x) => (typeof x.poolerCpuPct === 'number' ? `${num(x.poolerCpuPct)}%` : MISSING)),
        foot.cell(r, (x) => (x.variant.startsWith('alone') ? MISSING : num(x.serverLoginsPerS, 1))),
      ];
    });
  return table(headers, body);
}

function sharesTable(rows: readonly Row[], foot: Footnotes): string {
  const headers = [
    'target',
    'shares a / b / c % (entitled 14.3 / 28.6 / 57.1)',
    'max share error',
    'window error median',
    'window error p95',
    'Jain',
    'busy backends',
  ];
  const body = rows
    .filter((r) => r.variant === 'shares')
    .map((r) => [
      TARGET_LABELS[r.target],
      foot.cell(r, (x) => String(x.shares ?? MISSING)),
      foot.cell(r, (x) => pct(x.shareMaxError)),
      foot.cell(r, (x) => pct(x.shareWindowMedian)),
      foot.cell(r, (x) => pct(x.shareWindowP95)),
      foot.cell(r, (x) => num(x.jain, 3)),
      foot.cell(r, (x) => num(x.busyMean, 1)),
    ]);
  return table(headers, body);
}

function overloadTable(rows: readonly Row[], foot: Footnotes): string {
  const headers = [
    'target',
    'offered /s',
    'served /s',
    'rejected',
    'codes',
    'reject p50 ms',
    'reject p99 ms',
    'generator loop delay p99 ms',
    'generator CPU',
    'unsent (all connections held)',
    'victim p99 ms',
    'RSS before MB',
    'RSS peak MB',
  ];
  const body = rows
    .filter((r) => r.variant === 'overload')
    .map((r) => [
      TARGET_LABELS[r.target],
      foot.cell(r, (x) => num(x.offeredPerS)),
      foot.cell(r, (x) => num(x.servedPerS)),
      foot.cell(r, (x) => num(x.rejected)),
      foot.cell(r, (x) => String(x.rejectCodes || MISSING)),
      foot.cell(r, (x) => ms(x.rejectP50)),
      foot.cell(r, (x) => ms(x.rejectP99)),
      foot.cell(r, (x) => ms(x.generatorLagP99)),
      foot.cell(r, (x) => (typeof x.generatorCpuPct === 'number' ? `${num(x.generatorCpuPct)}%` : MISSING)),
      foot.cell(r, (x) => num(x.unsent)),
      foot.cell(r, (x) => ms(x.victimP99)),
      foot.cell(r, (x) => num(x.rssBeforeMb, 1)),
      foot.cell(r, (x) => num(x.rssPeakMb, 1)),
    ]);
  return table(headers, body);
}

export function renderNoisy(outcome: ScenarioOutcome): string {
  const foot = new Footnotes();
  const variants = NOISY_PLANS.map((p) => `- **${p.variant}**: ${p.title}`);
  const body = [
    ...variants,
    '',
    '**Over rounds**: median [min-max] per variant and target',
    '',
    spreadTable(outcome.rows),
    '',
    '**Each round**',
    '',
    victimTable(outcome.rows, foot),
    '',
    '**Weighted shares** (three tenants, weights 1:2:4, all backlogged)',
    '',
    sharesTable(outcome.rows, foot),
    '',
    '**10× overload**',
    '',
    overloadTable(outcome.rows, foot),
  ];
  const errors = outcome.rows
    .filter((r) => !r.error && (r.victimError || r.noisyError))
    .map(
      (r) =>
        `${label(r.variant)} via ${TARGET_LABELS[r.target]}: ${[r.victimError && `victim: ${r.victimError}`, r.noisyError && `noisy: ${r.noisyError}`].filter(Boolean).join('; ')}`,
    );
  return section('2. Noisy neighbour', body, [...outcome.notes, ...errors], foot);
}
