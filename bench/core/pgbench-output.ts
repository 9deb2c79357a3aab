// Owns reading pgbench's results: the summary it prints, its error lines, and its per-transaction log (-l).

export interface PgbenchSummary {
  processed: number;
  /** Transactions pgbench counted as failed (serialization/deadlock, PG 15+); other errors abort the client. */
  failed: number;
  tps: number;
  latencyAvgMs: number;
  initialConnectMs: number;
  /** Clients that stopped on an error; their transactions after the error never ran. */
  abortedClients: number;
  /** Clients that could not log in at all. */
  connectFailures: number;
  /** The first distinct error messages pgbench printed (the server's text), at most 3. */
  errors: string[];
}

function numberAfter(text: string, label: RegExp): number {
  const m = label.exec(text);
  return m ? Number(m[1]) : NaN;
}

const ERROR_PREFIX =
  /^(?:pgbench: (?:error|fatal): )+(?:client \d+ (?:script \d+ )?aborted in command \d+ (?:\([^)]*\) )?(?:of script \d+; )?(?:query \d+)?: ?)?/;

/** "pgbench: error: client 3 script 0 aborted in command 1 query 0: ERROR:  boom" → "ERROR: boom". */
export function pgbenchErrorMessage(line: string): string {
  return line.replace(ERROR_PREFIX, '').replace(/\s+/g, ' ').trim();
}

/** Parses pgbench's stdout and stderr (PG 13+ format); missing figures are NaN. */
export function parsePgbenchSummary(stdout: string, stderr: string): PgbenchSummary {
  const aborted = stderr.match(/^pgbench: error: client \d+ .*aborted.*$/gm) ?? [];
  const others = stderr.match(/^pgbench: (?:error|fatal): .*$/gm) ?? [];
  // The errors that aborted clients come first: they are why the run failed.
  const messages = [...new Set([...aborted, ...others].map(pgbenchErrorMessage))].filter((m) => m && !/^Run was aborted/.test(m));
  return {
    processed: numberAfter(stdout, /^number of transactions actually processed: (\d+)/m),
    failed: numberAfter(stdout, /^number of failed transactions: (\d+)/m) || 0,
    tps: numberAfter(stdout, /^tps = ([\d.]+)/m),
    latencyAvgMs: numberAfter(stdout, /^latency average = ([\d.]+) ms/m),
    initialConnectMs: numberAfter(stdout, /^initial connection time = ([\d.]+) ms/m),
    abortedClients: aborted.length,
    connectFailures: (stderr.match(/^pgbench: error: connection to server .*failed/gm) ?? []).length,
    errors: messages.slice(0, 3),
  };
}

export type LoggedStatus = 'ok' | 'failed' | 'skipped';

export interface LoggedTransaction {
  client: number;
  status: LoggedStatus;
  /** Microseconds; with --rate measured from the scheduled start, so it includes the schedule lag. NaN unless ok. */
  latencyUs: number;
  /** When the transaction ended, in microseconds since the epoch. */
  endUs: number;
}

/**
 * One line of `pgbench -l`: `client_id transaction_no time script_no time_epoch time_us [schedule_lag] [retries]`.
 * `time` is "failed" or "skipped" for transactions that did not complete; null for a malformed line.
 */
export function parsePgbenchLogLine(line: string): LoggedTransaction | null {
  const f = line.trim().split(' ');
  if (f.length < 6) return null;
  const client = Number(f[0]);
  const epoch = Number(f[4]);
  const micros = Number(f[5]);
  if (!Number.isInteger(client) || !Number.isFinite(epoch) || !Number.isFinite(micros)) return null;
  const endUs = epoch * 1e6 + micros;
  if (f[2] === 'failed' || f[2] === 'skipped') return { client, status: f[2], latencyUs: NaN, endUs };
  const latencyUs = Number(f[2]);
  if (!Number.isFinite(latencyUs)) return null;
  return { client, status: 'ok', latencyUs, endUs };
}

/** Every parsable line of one or more log files' text. */
export function parsePgbenchLog(text: string): LoggedTransaction[] {
  const out: LoggedTransaction[] = [];
  for (const line of text.split('\n')) {
    const tx = line ? parsePgbenchLogLine(line) : null;
    if (tx) out.push(tx);
  }
  return out;
}

export interface PgbenchProgress {
  /** Seconds since pgbench started (connections included). */
  elapsedS: number;
  /** Over the interval since the previous report. */
  tps: number;
  latencyMs: number;
  failed: number;
}

/** A `pgbench -P` line: "progress: 2.0 s, 15234.1 tps, lat 0.655 ms stddev 0.2, 0 failed"; null otherwise. */
export function parsePgbenchProgress(line: string): PgbenchProgress | null {
  const m = /^progress: ([\d.]+) s, ([\d.]+) tps, lat ([\d.]+) ms/.exec(line);
  if (!m) return null;
  const failed = /, (\d+) failed/.exec(line);
  return { elapsedS: Number(m[1]), tps: Number(m[2]), latencyMs: Number(m[3]), failed: failed ? Number(failed[1]) : 0 };
}

export interface SteadyState {
  seconds: number;
  txns: number;
  tps: number;
  /** Transaction-weighted mean of the per-interval latency averages. */
  latencyAvgMs: number;
  failed: number;
}

/**
 * Throughput over the reports after the first: the first report covers the logins (pgbench reports
 * progress only once its clients are connected), so the steady state starts where it ends.
 */
export function steadyState(reports: readonly PgbenchProgress[]): SteadyState {
  let txns = 0;
  let latencySum = 0;
  let failed = 0;
  for (let i = 1; i < reports.length; i++) {
    const n = reports[i]!.tps * (reports[i]!.elapsedS - reports[i - 1]!.elapsedS);
    txns += n;
    latencySum += n * reports[i]!.latencyMs;
    failed += reports[i]!.failed;
  }
  const seconds = reports.length > 1 ? reports.at(-1)!.elapsedS - reports[0]!.elapsedS : 0;
  return { seconds, txns, tps: seconds > 0 ? txns / seconds : NaN, latencyAvgMs: txns > 0 ? latencySum / txns : NaN, failed };
}
