// Owns the noisy-neighbour tables: victim latency per variant, weighted shares, and overload.
import { Footnotes, MISSING, ms, num, pct, section, table, times } from '../report/markdown.js';
import { TARGET_LABELS } from '../targets/target.js';
import { NOISY_PLANS } from './noisy-workloads.js';
import type { Row, ScenarioOutcome } from './scenario.js';

function label(variant: string): string {
  return variant === 'alone' ? 'victim alone' : variant;
}

function victimTable(rows: readonly Row[], foot: Footnotes): string {
  const headers = [
    'variant',
    'target',
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
      const hasVictim = r.variant !== 'victim-idle';
      // A victim that completed nothing has no latency to show; its goodput column says 0%.
      const v = (f: (r: Row) => string) => foot.cell(r, (x) => (!hasVictim ? MISSING : x.victimTxns === 0 ? 'none done' : f(x)));
      const goodput = (f: (r: Row) => string) => foot.cell(r, (x) => (hasVictim ? f(x) : MISSING));
      return [
        label(r.variant),
        TARGET_LABELS[r.target],
        v((x) => ms(x.victimP50)),
        v((x) => ms(x.victimP99)),
        v((x) => ms(x.victimP999)),
        v((x) => times(x.victimI99)),
        goodput((x) => pct(x.victimGoodput)),
        goodput((x) => num(x.victimErrors)),
        foot.cell(r, (x) => (x.variant === 'alone' ? MISSING : num(x.noisyTps))),
        foot.cell(r, (x) => num(x.busyMean, 1)),
        foot.cell(r, (x) => pct(x.utilisation)),
        foot.cell(r, (x) => (typeof x.poolerCpuPct === 'number' ? `${num(x.poolerCpuPct)}%` : MISSING)),
        foot.cell(r, (x) => (x.variant === 'alone' ? MISSING : num(x.serverLoginsPerS, 1))),
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
