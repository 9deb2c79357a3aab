// Child process: open-loop arrivals at a fixed rate over a set of connections, recording answers and rejections.
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { summarize, type LatencySummary } from '../core/stats.js';
import { ScramKeyCache, WireClient, type QueryOutcome, type WireConfig } from './wire-client.js';

/**
 * argv[2] as JSON. Prints {"ready":true} once connected, sends until SIGTERM, then prints the
 * report as one JSON line on stdout.
 */
export interface OverloadSpec extends WireConfig {
  /** Arrivals per second. */
  rate: number;
  /** Connections the arrivals are spread over; an arrival that finds none free is counted as unsent. */
  connections: number;
  sql: string;
  /**
   * Arrivals in the first milliseconds after the ready line are sent but not counted: the logins just
   * ended, and the pooler's first server logins and JIT warm-up are a start-up transient, not overload.
   */
  warmupMs?: number;
}

export interface OverloadReport {
  /** From the end of the warm-up to SIGTERM. */
  seconds: number;
  offered: number;
  sent: number;
  ok: number;
  /** SQLSTATE → count, for errors the pooler or server answered with. */
  rejected: Record<string, number>;
  /** Arrivals that found every connection busy (the pooler held them all). */
  unsent: number;
  /** Sent but unanswered when the run ended. */
  unanswered: number;
  /** Connections the other side closed (PgBouncer's query_wait_timeout is FATAL). */
  closedByServer: number;
  okMs: LatencySummary;
  rejectMs: LatencySummary;
  /**
   * This generator's own event-loop delay (ms): an answer that arrives while the loop is busy is timed
   * late by that much, so a reject p99 near this figure is the generator's, not the pooler's.
   */
  loopDelayMs: { p50: number; p99: number; max: number };
  /** This generator's CPU over the run, 100 = one core. */
  cpuPct: number;
}

const TICK_MS = 2;

/** What one measured stretch saw; restart() begins a new stretch and disowns answers to earlier sends. */
class Tally {
  counts = Tally.zero();
  private okMs: number[] = [];
  private rejectMs: number[] = [];
  private from = performance.now();
  private cpu = process.cpuUsage();
  private readonly lag = monitorEventLoopDelay({ resolution: 1 });
  /** Sends carry the epoch they were made in; answers from an earlier one are not counted. */
  epoch = 0;

  private static zero() {
    return { offered: 0, sent: 0, ok: 0, rejected: {} as Record<string, number>, unsent: 0, closedByServer: 0 };
  }

  constructor() {
    this.lag.enable();
  }

  restart(): void {
    this.epoch++;
    this.counts = Tally.zero();
    this.okMs = [];
    this.rejectMs = [];
    this.from = performance.now();
    this.cpu = process.cpuUsage();
    this.lag.reset();
  }

  answered(outcome: QueryOutcome, ms: number): void {
    if (outcome.ok) {
      this.counts.ok++;
      this.okMs.push(ms);
    } else if (outcome.code !== 'closed') {
      this.counts.rejected[outcome.code] = (this.counts.rejected[outcome.code] ?? 0) + 1;
      this.rejectMs.push(ms);
    }
  }

  report(): OverloadReport {
    this.lag.disable();
    const seconds = (performance.now() - this.from) / 1000;
    const { user, system } = process.cpuUsage(this.cpu);
    const c = this.counts;
    return {
      ...c,
      seconds,
      unanswered: c.sent - c.ok - this.rejectMs.length,
      okMs: summarize(this.okMs),
      rejectMs: summarize(this.rejectMs),
      loopDelayMs: { p50: this.lag.percentile(50) / 1e6, p99: this.lag.percentile(99) / 1e6, max: this.lag.max / 1e6 },
      cpuPct: (user + system) / (seconds * 1e4),
    };
  }
}

async function main(spec: OverloadSpec): Promise<OverloadReport> {
  const cache = new ScramKeyCache();
  const idle: WireClient[] = [];
  let stopping = false;
  let tally: Tally | undefined;
  const open = async (): Promise<void> => {
    const client = await WireClient.connect(spec, cache);
    client.onClose = () => {
      if (stopping) return;
      if (tally) tally.counts.closedByServer++;
      void open().catch(() => undefined); // Keep the offered load's connection count up.
    };
    idle.push(client);
  };
  await open(); // One login first, so the key cache is warm for the rest.
  await Promise.all(Array.from({ length: spec.connections - 1 }, () => open().catch(() => undefined)));
  const t = (tally = new Tally());
  const send = (client: WireClient): void => {
    t.counts.sent++;
    const t0 = performance.now();
    const epoch = t.epoch;
    void client.query(spec.sql).then((outcome) => {
      if (epoch === t.epoch) t.answered(outcome, performance.now() - t0);
      if (!client.isClosed && !stopping) idle.push(client);
    });
  };
  const started = performance.now();
  process.stdout.write('{"ready":true}\n');
  const warmup = setTimeout(() => t.restart(), spec.warmupMs ?? 0);
  let arrivals = 0;
  const timer = setInterval(() => {
    const due = Math.floor(((performance.now() - started) / 1000) * spec.rate);
    for (; arrivals < due; arrivals++) {
      t.counts.offered++;
      const client = idle.pop();
      if (client) send(client);
      else t.counts.unsent++;
    }
  }, TICK_MS);
  await new Promise<void>((resolve) => process.once('SIGTERM', () => resolve()));
  clearInterval(timer);
  clearTimeout(warmup);
  stopping = true;
  return t.report();
}

main(JSON.parse(process.argv[2]!) as OverloadSpec).then(
  (report) => {
    process.stdout.write(`${JSON.stringify(report)}\n`);
    process.exit(0);
  },
  (err) => {
    process.stderr.write(`overload: ${(err as Error).stack}\n`);
    process.exit(1);
  },
);
