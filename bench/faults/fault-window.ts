// Owns the numbers of one fault's window: commits acknowledged and lost, client errors, and how long until writers commit again.
import type { Ack, ClientError } from './commit-workload.js';

export interface FaultWindow {
  /** When the fault's injection began, and when the next one's did (or the run ended); ms, performance.now(). */
  from: number;
  to: number;
  /** When the fault took effect (the signal, the terminate, the shutdown's start). */
  effectAt: number;
  writers: number;
}

export interface WindowNumbers {
  acked: number;
  /** Acknowledged commits not in the table afterwards. */
  lost: number;
  lostIds: number[];
  errors: number;
  /** Distinct error messages with their counts, most frequent first. */
  errorKinds: string;
  /** From the fault taking effect to the first acknowledged commit sent after it. */
  firstCommitMs: number | null;
  /** From the fault taking effect until every writer had a commit (sent after it) acknowledged (null: some never did). */
  allBackMs: number | null;
  /** The longest time in the window with no commit acknowledged by anyone. */
  longestGapMs: number;
  /** The longest time one writer went without an acknowledged commit, across the fault. */
  longestStallMs: number;
}

function errorKinds(errors: ClientError[]): string {
  const counts = new Map<string, number>();
  for (const e of errors) {
    const short = e.what.split('\n')[0].slice(0, 90);
    counts.set(short, (counts.get(short) ?? 0) + 1);
  }
  return [...counts]
    .sort((a, b) => b[1] - a[1])
    .map(([m, n]) => `${n}× ${m}`)
    .join('; ');
}

function longestGap(acks: Ack[], from: number, to: number): number {
  let last = from;
  let gap = 0;
  for (const t of acks.map((a) => a.ackAt).sort((a, b) => a - b)) {
    gap = Math.max(gap, t - last);
    last = t;
  }
  return Math.max(gap, to - last);
}

/** Per writer, the longest time between consecutive acks that ends inside the window. */
function longestStall(acks: Ack[], from: number, to: number): number {
  const last = new Map<number, number>();
  let stall = 0;
  for (const a of acks) {
    if (a.ackAt >= to) break;
    const w = writerOf(a.id);
    const prev = last.get(w);
    if (prev !== undefined && a.ackAt >= from) stall = Math.max(stall, a.ackAt - prev);
    last.set(w, a.ackAt);
  }
  return stall;
}

/** The writer of an id (ids are writer * 1e9 + sequence). */
const writerOf = (id: number) => Math.floor(id / 1_000_000_000);

/** acks in the order they were acknowledged (as the workload records them). */
export function windowNumbers(w: FaultWindow, acks: Ack[], errors: ClientError[], stored: ReadonlySet<number>): WindowNumbers {
  const mine = acks.filter((a) => a.ackAt >= w.from && a.ackAt < w.to);
  const after = mine.filter((a) => a.sentAt >= w.effectAt);
  const firstPerWriter = new Map<number, number>();
  for (const a of after) if (!firstPerWriter.has(writerOf(a.id))) firstPerWriter.set(writerOf(a.id), a.ackAt);
  const lostIds = mine.filter((a) => !stored.has(a.id)).map((a) => a.id);
  const errs = errors.filter((e) => e.at >= w.from && e.at < w.to);
  return {
    acked: mine.length,
    lost: lostIds.length,
    lostIds: lostIds.slice(0, 10),
    errors: errs.length,
    errorKinds: errorKinds(errs),
    firstCommitMs: after.length ? after.reduce((m, a) => Math.min(m, a.ackAt), Infinity) - w.effectAt : null,
    allBackMs: firstPerWriter.size === w.writers ? Math.max(...firstPerWriter.values()) - w.effectAt : null,
    longestGapMs: longestGap(mine, w.from, w.to),
    longestStallMs: longestStall(acks, w.from, w.to),
  };
}
