// Owns one fuzz run: hostile sessions until the message budget is spent, good clients checking beside them, and the report.
import { runSession, type FuzzEndpoint } from './fuzz-client.js';
import { runGoodClient, type Defaults, type GoodTally } from './good-client.js';
import { Prng } from './prng.js';
import { planSession } from './session-plan.js';
import { probe, SluiceWatch, type SluiceProcess } from './sluice-watch.js';

export interface FuzzOptions {
  seed: number;
  /** Frontend messages to send in all (hostile sessions only). */
  messages: number;
  /** Hostile sessions at a time. */
  concurrency: number;
  goodClients: number;
  /** Run only these sessions (by index), one after another: the replay of a failure. */
  only?: number[];
  endpoint: FuzzEndpoint;
  sluice: SluiceProcess;
  defaults: Defaults;
  /** After the run, wait this long before the `settled` RSS sample (0: no such sample). */
  settleRssMs?: number;
  progress?: (line: string) => void;
}

export interface FirstFailure {
  what: string;
  afterMessages: number;
  afterMs: number;
  /** Sessions started last before it was seen (the culprit is usually among them): replay them with --only. */
  recent: number[];
}

export interface FuzzReport {
  seed: number;
  messages: number;
  sessions: number;
  wallMs: number;
  crashes: string[];
  wrongAnswers: string[];
  /** Sluice's error-level log lines: exceptions it caught and survived. */
  internalErrors: string[];
  good: GoodTally;
  firstFailure: FirstFailure | null;
  rssMb: { start: number | null; peak: number; end: number | null; settled: number | null };
  /** V8 heap in use at the baseline and when settled, where Sluice serves /metrics. */
  heapMb: { start: number | null; settled: number | null };
}

const SETTLE_MS = 1000;
/** Good clients alone before the hostile sessions start, when a settled RSS is wanted. */
const WARM_MS = 10_000;
/** More than the sessions in flight at once (24 by default), so the one that broke something is among them. */
const RECENT = 64;

class Run {
  sent = 0;
  sessions = 0;
  next = 0;
  readonly started = performance.now();
  /** The last sessions started, oldest first. */
  readonly recent: number[] = [];
  readonly wrong: string[] = [];
  readonly good: GoodTally = { checks: 0, wrong: [], errors: 0, errorSamples: [] };
  first: FirstFailure | null = null;
  constructor(
    readonly o: FuzzOptions,
    readonly watch: SluiceWatch,
  ) {}

  get stopped(): boolean {
    return this.watch.crashed || (this.o.only ? this.next >= this.o.only.length : this.sent >= this.o.messages);
  }

  failed(what: string): void {
    this.first ??= { what, afterMessages: this.sent, afterMs: Math.round(performance.now() - this.started), recent: [...this.recent] };
  }

  async worker(): Promise<void> {
    while (!this.stopped) {
      const index = this.o.only ? this.o.only[this.next++] : this.next++;
      this.recent.push(index);
      if (this.recent.length > RECENT) this.recent.shift();
      const result = await runSession(planSession(new Prng(this.o.seed, index), index), this.o.endpoint, this.o.seed);
      this.sent += result.messages;
      this.sessions++;
      for (const w of result.wrong) this.wrong.push(w), this.failed(`wrong answer: ${w}`);
      if (result.refused) await this.watch.probeOnce();
    }
  }
}

function goodClients(run: Run, running: () => boolean): Promise<void>[] {
  return Array.from({ length: run.o.goodClients }, (_, id) =>
    runGoodClient({
      endpoint: run.o.endpoint,
      id,
      seed: run.o.seed,
      defaults: run.o.defaults,
      tally: run.good,
      running,
      onWrong: (w) => run.failed(`wrong answer: ${w}`),
    }),
  );
}

function reportProgress(run: Run): NodeJS.Timeout {
  return setInterval(
    () =>
      run.o.progress?.(
        `${run.sent} messages, ${run.sessions} sessions, good checks ${run.good.checks}, good errors ${run.good.errors}, wrong ${run.wrong.length + run.good.wrong.length}, RSS peak ${run.watch.peakRssMb.toFixed(0)} MB`,
      ),
    5000,
  );
}

export async function runFuzz(o: FuzzOptions): Promise<FuzzReport> {
  const watch = new SluiceWatch(o.sluice, o.endpoint);
  const run = new Run(o, watch);
  watch.start(() => run.failed(watch.crashes[0]));
  let goodRunning = true;
  const good = goodClients(run, () => goodRunning && !watch.crashed);
  // With a settled sample to compare, the baseline is Sluice warmed up by the good clients alone, not a cold process.
  if (o.settleRssMs) await new Promise((resolve) => setTimeout(resolve, WARM_MS));
  const rssStart = await watch.sampleRss();
  const heapStart = (await o.sluice.heapUsedMb?.()) ?? null;
  const ticker = reportProgress(run);
  await Promise.all(Array.from({ length: o.only ? 1 : o.concurrency }, () => run.worker()));
  await new Promise((resolve) => setTimeout(resolve, SETTLE_MS)); // Good clients meet what the last sessions left behind.
  goodRunning = false;
  await Promise.all(good);
  clearInterval(ticker);
  if (!watch.crashed) {
    const problem = await probe(o.endpoint);
    if (problem) watch.crashes.push(`Sluice stopped serving after the run: ${problem}`);
  }
  const rssEnd = await watch.sampleRss();
  watch.stop();
  const rssSettled = o.settleRssMs ? await settledRss(watch, o.settleRssMs) : null;
  const heapSettled = o.settleRssMs ? ((await o.sluice.heapUsedMb?.()) ?? null) : null;
  return {
    seed: o.seed,
    messages: run.sent,
    sessions: run.sessions,
    wallMs: Math.round(performance.now() - run.started),
    crashes: watch.crashes,
    wrongAnswers: [...run.wrong, ...run.good.wrong],
    internalErrors: o.sluice.internalErrors(),
    good: run.good,
    firstFailure: run.first,
    rssMb: { start: rssStart, peak: watch.peakRssMb, end: rssEnd, settled: rssSettled },
    heapMb: { start: heapStart, settled: heapSettled },
  };
}

/**
 * Sluice's RSS `waitMs` after every client has gone: what "back near its baseline" is judged on, since
 * V8's memory reducer and malloc give memory back over tens of seconds once the load stops, not at once.
 */
async function settledRss(watch: SluiceWatch, waitMs: number): Promise<number | null> {
  await new Promise((resolve) => setTimeout(resolve, waitMs));
  return watch.sampleRss();
}

/** A crash, a wrong answer, an internal error, or an error a good client saw: the run failed. */
export function failed(r: FuzzReport): boolean {
  return r.crashes.length + r.wrongAnswers.length + r.internalErrors.length + r.good.errors > 0;
}

/** The report as text lines, for the CLI and the test's output. */
export function describeReport(r: FuzzReport): string[] {
  const mb = (v: number | null) => (v === null ? 'gone' : `${v.toFixed(1)} MB`);
  const lines = [
    `seed ${r.seed}: ${r.messages} messages in ${r.sessions} sessions, ${(r.wallMs / 1000).toFixed(1)} s`,
    `crashes: ${r.crashes.length}${r.crashes.length ? ` (${r.crashes[0]})` : ''}`,
    `wrong answers: ${r.wrongAnswers.length}`,
    ...r.wrongAnswers.slice(0, 10).map((w) => `  ${w}`),
    `internal errors logged by Sluice: ${r.internalErrors.length}`,
    ...r.internalErrors.slice(0, 5).map((e) => `  ${e}`),
    `good clients: ${r.good.checks} answers checked, ${r.good.errors} errors`,
    ...r.good.errorSamples.map((e) => `  ${e}`),
    `Sluice RSS: start ${mb(r.rssMb.start)}, peak ${mb(r.rssMb.peak)}, end ${mb(r.rssMb.end)}${r.rssMb.settled === null ? '' : `, ${mb(r.rssMb.settled)} a minute after the last client left`}`,
    ...(r.heapMb.start === null || r.heapMb.settled === null
      ? []
      : [`Sluice V8 heap in use: ${mb(r.heapMb.start)} at the baseline, ${mb(r.heapMb.settled)} a minute after`]),
  ];
  const f = r.firstFailure;
  if (f)
    lines.push(
      `first failure after ${f.afterMessages} messages, ${(f.afterMs / 1000).toFixed(1)} s: ${f.what}`,
      `  sessions started last: ${f.recent.join(',')} (replay: npm run fuzz -- --seed ${r.seed} --only ${f.recent.join(',')} --show)`,
    );
  return lines;
}
