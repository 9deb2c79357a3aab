// Owns the fair-versus-fifo table: each mode's median over rounds and the fair / fifo ratios per client count.
import { Footnotes, MISSING, ms, num, section, table, times } from '../report/markdown.js';
import type { Row, ScenarioOutcome } from './scenario.js';

export type SchedulerMode = 'fifo' | 'fair';

/** One mode's figures at one client count: medians over the rounds that succeeded. */
export interface ModeSummary {
  rounds: number;
  tps: number;
  cpuUsPerTxn: number;
  latencyMs: number;
  /** The first failure, when a round failed. */
  error?: string;
}

export interface FairFifoLine {
  clients: number;
  fifo: ModeSummary;
  fair: ModeSummary;
  /** fair / fifo: below 1 means fair mode served fewer transactions per second. */
  tpsRatio: number;
  /** fair / fifo: above 1 means fair mode cost more pooler CPU per transaction. */
  cpuRatio: number;
}

export function median(values: readonly number[]): number {
  const v = values.filter(Number.isFinite).sort((a, b) => a - b);
  if (v.length === 0) return NaN;
  const mid = v.length >> 1;
  return v.length % 2 ? v[mid]! : (v[mid - 1]! + v[mid]!) / 2;
}

function summarizeMode(rows: readonly Row[]): ModeSummary {
  const ok = rows.filter((r) => !r.error);
  const pick = (key: string) => median(ok.map((r) => r[key] as number));
  const failed = rows.find((r) => r.error);
  return {
    rounds: ok.length,
    tps: pick('tps'),
    cpuUsPerTxn: pick('cpuUsPerTxn'),
    latencyMs: pick('latencyMs'),
    ...(failed ? { error: failed.error } : {}),
  };
}

/** Rows carry `scheduler` (fifo / fair) and `clients`; lines come out in ascending client counts. */
export function fairFifoLines(rows: readonly Row[]): FairFifoLine[] {
  const counts = [...new Set(rows.map((r) => r.clients as number))].sort((a, b) => a - b);
  return counts.map((clients) => {
    const of = (mode: SchedulerMode) => summarizeMode(rows.filter((r) => r.clients === clients && r.scheduler === mode));
    const fifo = of('fifo');
    const fair = of('fair');
    return { clients, fifo, fair, tpsRatio: fair.tps / fifo.tps, cpuRatio: fair.cpuUsPerTxn / fifo.cpuUsPerTxn };
  });
}

function cell(s: ModeSummary, foot: Footnotes, value: string): string {
  if (s.rounds > 0) return value;
  return s.error ? foot.cell({ variant: '', target: 'sluice', error: s.error }, () => MISSING) : MISSING;
}

export function renderFairFifo(outcome: ScenarioOutcome): string {
  const foot = new Footnotes();
  const headers = [
    'clients',
    'rounds',
    'tps fifo',
    'tps fair',
    'fair / fifo tps',
    'CPU µs/txn fifo',
    'CPU µs/txn fair',
    'fair / fifo CPU',
    'latency ms fifo',
    'latency ms fair',
  ];
  const body = fairFifoLines(outcome.rows).map((l) => [
    String(l.clients),
    `${l.fifo.rounds} / ${l.fair.rounds}`,
    cell(l.fifo, foot, num(l.fifo.tps)),
    cell(l.fair, foot, num(l.fair.tps)),
    times(l.tpsRatio),
    cell(l.fifo, foot, num(l.fifo.cpuUsPerTxn, 1)),
    cell(l.fair, foot, num(l.fair.cpuUsPerTxn, 1)),
    times(l.cpuRatio),
    cell(l.fifo, foot, ms(l.fifo.latencyMs)),
    cell(l.fair, foot, ms(l.fair.latencyMs)),
  ]);
  return section('1b. Fair versus fifo scheduling at low load', [table(headers, body)], outcome.notes, foot);
}
