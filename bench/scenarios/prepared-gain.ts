// The throughput scenario's prepared-versus-extended table: what named prepared statements gain in transaction mode, per target.
import { MISSING, num, table, times } from '../report/markdown.js';
import { TARGET_LABELS, type TargetName } from '../targets/target.js';
import type { Row } from './scenario.js';

const VARIANT = /^select-only (extended|prepared) (\d+)$/;

/** One row per target and client count that ran both modes; a failed mode's cells say so (its error is a footnote above). */
export function preparedGain(rows: readonly Row[]): string {
  const pairs = new Map<string, { target: TargetName; clients: number; extended?: Row; prepared?: Row }>();
  for (const r of rows) {
    const m = VARIANT.exec(r.variant);
    if (!m) continue;
    const key = `${r.target} ${m[2]}`;
    const pair = pairs.get(key) ?? { target: r.target, clients: Number(m[2]) };
    pair[m[1] as 'extended' | 'prepared'] = r;
    pairs.set(key, pair);
  }
  const value = (r: Row | undefined, key: string, digits = 0) => (!r ? MISSING : r.error ? 'failed' : num(r[key], digits));
  const ratio = (a: Row | undefined, b: Row | undefined, key: string) =>
    a && b && !a.error && !b.error ? times((a[key] as number) / (b[key] as number)) : MISSING;
  const body = [...pairs.values()].map(({ target, clients, extended: e, prepared: p }) => [
    TARGET_LABELS[target],
    String(clients),
    value(e, 'tps'),
    value(p, 'tps'),
    ratio(p, e, 'tps'),
    value(e, 'cpuUsPerTxn', 1),
    value(p, 'cpuUsPerTxn', 1),
    ratio(p, e, 'cpuUsPerTxn'),
  ]);
  const headers = [
    'target',
    'clients',
    'tps extended',
    'tps prepared',
    'prepared / extended tps',
    'CPU µs/txn extended',
    'CPU µs/txn prepared',
    'prepared / extended CPU',
  ];
  return [
    '**`-M prepared` against `-M extended`** (select-only, transaction mode): the gain of named prepared statements.',
    '',
    table(headers, body),
  ].join('\n');
}
