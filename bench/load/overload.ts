// Child process: open-loop arrivals at a fixed rate over a set of connections, recording answers and rejections.
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { summarize, type LatencySummary } from '../core/stats.js';
import { ScramKeyCache, WireClient, type WireConfig } from './wire-client.js';

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

async function main(spec: OverloadSpec): Promise<OverloadReport> {
  const cache = new ScramKeyCache();
  const idle: WireClient[] = [];
  const fresh = () => ({ offered: 0, sent: 0, ok: 0, rejected: {} as Record<string, number>, unsent: 0, unanswered: 0, closedByServer: 0 });
  let report = fresh();
  /** Answers to queries sent before the warm-up ended are not counted. */
  let epoch = 0;
  const okMs: number[] = [];
  const rejectMs: number[] = [];
  let stopping = false;
  const open = async (): Promise<void> => {
    const client = await WireClient.connect(spec, cache);
    client.onClose = () => {
      if (stopping) return;
      report.closedByServer++;
      void open().catch(() => undefined); // Keep the offered load's connection count up.
    };
    idle.push(client);
  };
  await open(); // One login first, so the key cache is warm for the rest.
  await Promise.all(Array.from({ length: spec.connections - 1 }, () => open().catch(() => undefined)));
  const send = (client: WireClient): void => {
    report.sent++;
    const t0 = performance.now();
    const sentIn = epoch;
    void client.query(spec.sql).then((outcome) => {
      const ms = performance.now() - t0;
      if (sentIn !== epoch) {
        if (!client.isClosed && !stopping) idle.push(client);
        return;
      }
      if (outcome.ok) {
        report.ok++;
        okMs.push(ms);
      } else if (outcome.code !== 'closed') {
        report.rejected[outcome.code] = (report.rejected[outcome.code] ?? 0) + 1;
        rejectMs.push(ms);
      }
      if (!client.isClosed && !stopping) idle.push(client);
    });
  };
  const started = performance.now();
  let measuredFrom = started;
  let cpu0 = process.cpuUsage();
  const lag = monitorEventLoopDelay({ resolution: 1 });
  lag.enable();
  process.stdout.write('{"ready":true}\n');
  let arrivals = 0;
  const warmup = setTimeout(() => {
    epoch++;
    report = fresh();
    okMs.length = 0;
    rejectMs.length = 0;
    measuredFrom = performance.now();
    cpu0 = process.cpuUsage();
    lag.reset();
  }, spec.warmupMs ?? 0);
  const timer = setInterval(() => {
    const due = Math.floor(((performance.now() - started) / 1000) * spec.rate);
    while (arrivals < due) {
      arrivals++;
      report.offered++;
      const client = idle.pop();
      if (client) send(client);
      else report.unsent++;
    }
  }, TICK_MS);
  await new Promise<void>((resolve) => process.once('SIGTERM', () => resolve()));
  clearInterval(timer);
  clearTimeout(warmup);
  stopping = true;
  lag.disable();
  const seconds = (performance.now() - measuredFrom) / 1000;
  const { user, system } = process.cpuUsage(cpu0);
  const loopDelayMs = { p50: lag.percentile(50) / 1e6, p99: lag.percentile(99) / 1e6, max: lag.max / 1e6 };
  const unanswered = report.sent - report.ok - rejectMs.length;
  return {
    ...report, seconds, unanswered, okMs: summarize(okMs), rejectMs: summarize(rejectMs),
    loopDelayMs, cpuPct: (user + system) / (seconds * 1e4),
  };
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
