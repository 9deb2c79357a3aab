// Owns running pgbench against one endpoint as one role, and collecting its summary, progress and per-transaction log.
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Cleanup } from './cleanup.js';
import { startChild, type Child } from './child.js';
import {
  parsePgbenchLog,
  parsePgbenchProgress,
  parsePgbenchSummary,
  type LoggedTransaction,
  type PgbenchProgress,
  type PgbenchSummary,
} from './pgbench-output.js';

export interface Connection {
  host: string;
  port: number;
  user: string;
  password: string;
  database: string;
}

export type QueryMode = 'simple' | 'extended' | 'prepared';

export interface PgbenchSpec {
  clients: number;
  /** pgbench threads; default min(2, clients): the machine is small. */
  threads?: number;
  /** pgbench -T; with `steady`, the seconds measured after the logins. */
  seconds: number;
  /**
   * pgbench's -T clock includes the logins, which take seconds at 1,000 SCRAM clients. With `steady`,
   * it runs with progress reports until `seconds` of them follow the first one, and is then stopped.
   */
  steady?: boolean;
  mode?: QueryMode;
  /** Built-in script; ignored when `script` is given. Default select-only. */
  builtin?: 'select-only' | 'tpcb-like';
  /** SQL of a custom script (pgbench -f). */
  script?: string;
  /** Open loop: transactions per second in total (pgbench -R); latency then counts from the scheduled start. */
  rate?: number;
  /** Keep the per-transaction log (pgbench -l). */
  log?: boolean;
  /** Called with each progress report (steady runs). */
  onProgress?: (p: PgbenchProgress) => void;
}

export interface PgbenchResult {
  /** For steady runs (stopped early) only the error figures are filled; use `progress`. */
  summary: PgbenchSummary;
  exitCode: number | null;
  /** Empty unless spec.log. */
  transactions: LoggedTransaction[];
  progress: PgbenchProgress[];
}

/** The most a steady run waits for its clients to log in. */
const LOGIN_ALLOWANCE_S = 120;
const ABORTED = /^pgbench: error: client \d+ .*aborted/;
const ABORT_GRACE_MS = 2000;

export function pgbenchEnv(conn: Connection): NodeJS.ProcessEnv {
  return {
    ...process.env,
    PGHOST: conn.host,
    PGPORT: String(conn.port),
    PGUSER: conn.user,
    PGPASSWORD: conn.password,
    PGDATABASE: conn.database,
    PGCONNECT_TIMEOUT: '60',
    PGSSLMODE: 'disable',
  };
}

export function pgbenchArgs(spec: PgbenchSpec, dir: string): string[] {
  const duration = spec.steady ? spec.seconds + LOGIN_ALLOWANCE_S : spec.seconds;
  const args = ['-n', '-T', String(duration), '-c', String(spec.clients), '-j', String(spec.threads ?? Math.min(2, spec.clients))];
  args.push('-M', spec.mode ?? 'simple');
  if (spec.script !== undefined) args.push('-f', path.join(dir, 'script.sql'));
  else if (spec.builtin !== 'tpcb-like') args.push('-S');
  if (spec.rate) args.push('-R', String(spec.rate));
  if (spec.log) args.push('-l', `--log-prefix=${path.join(dir, 'tx')}`);
  if (spec.steady) args.push('-P', '1');
  return args;
}

async function readLogs(dir: string): Promise<LoggedTransaction[]> {
  const files = (await readdir(dir)).filter((f) => f.startsWith('tx.'));
  const out: LoggedTransaction[] = [];
  for (const f of files) for (const tx of parsePgbenchLog(await readFile(path.join(dir, f), 'utf8'))) out.push(tx);
  return out;
}

/** A pgbench process under way. */
export interface PgbenchRun {
  /** Resolves at the first progress report (every client logged in), or when pgbench ends without one. */
  readonly loggedIn: Promise<void>;
  /** Resolves when pgbench has ended by itself (-T elapsed, steady window done, every client aborted). */
  readonly done: Promise<PgbenchResult>;
  /** Stops it now (SIGINT) and collects what it did. */
  stop(): Promise<PgbenchResult>;
}

/** Follows pgbench's stderr: progress reports, the first of which means every client is logged in, and aborts. */
class ProgressWatch {
  readonly reports: PgbenchProgress[] = [];
  readonly loggedIn: Promise<void>;
  markLoggedIn: () => void = () => undefined;
  private abortGrace: NodeJS.Timeout | undefined;

  constructor(private readonly spec: PgbenchSpec) {
    this.loggedIn = new Promise<void>((resolve) => (this.markLoggedIn = resolve));
  }

  onLine(line: string, stop: () => void): void {
    // Progress comes from pgbench's first thread; once its clients abort, reports stop and a steady
    // run would wait out its whole login allowance. An aborted client already fails the run.
    if (this.spec.steady && ABORTED.test(line)) this.abortGrace ??= setTimeout(stop, ABORT_GRACE_MS);
    const p = parsePgbenchProgress(line);
    if (!p) return;
    this.reports.push(p);
    this.markLoggedIn();
    this.spec.onProgress?.(p);
    if (this.spec.steady && this.reports.length === this.spec.seconds + 1) stop();
  }

  ended(): void {
    this.markLoggedIn();
    clearTimeout(this.abortGrace);
  }
}

async function spawnPgbench(
  cleanup: Cleanup,
  conn: Connection,
  spec: PgbenchSpec & { open?: boolean },
  fdLimit: number,
  watch: ProgressWatch,
) {
  const dir = await mkdtemp(path.join(tmpdir(), 'bench-pgbench-'));
  const forget = cleanup.add(() => rm(dir, { recursive: true, force: true }));
  if (spec.script !== undefined) await writeFile(path.join(dir, 'script.sql'), `${spec.script}\n`);
  // An open run needs progress reports and a long -T too; only its stop differs.
  const args = pgbenchArgs(spec.open ? { ...spec, steady: true } : spec, dir);
  const child: Child = startChild(cleanup, 'pgbench', args, {
    env: pgbenchEnv(conn),
    cwd: dir,
    fdLimit,
    onLine: (line, stream) => stream === 'stderr' && watch.onLine(line, () => void child.stop('SIGINT')),
  });
  return { dir, forget, child };
}

/**
 * Starts pgbench. With `steady` it stops itself after `seconds` of progress reports; with `open`
 * it runs (with progress reports) until stop() is called.
 */
export function startPgbench(cleanup: Cleanup, conn: Connection, spec: PgbenchSpec & { open?: boolean }, fdLimit: number): PgbenchRun {
  const watch = new ProgressWatch(spec);
  const started = spawnPgbench(cleanup, conn, spec, fdLimit, watch);
  const done = (async (): Promise<PgbenchResult> => {
    const { dir, forget, child } = await started;
    // A stuck pooler must not hang the bench.
    const timer = spec.open ? undefined : setTimeout(() => void child.stop('SIGKILL'), (spec.seconds + LOGIN_ALLOWANCE_S + 60) * 1000);
    const result = await child.done;
    clearTimeout(timer);
    watch.ended();
    try {
      const transactions = spec.log ? await readLogs(dir) : [];
      return { summary: parsePgbenchSummary(result.stdout, result.stderr), exitCode: result.code, transactions, progress: watch.reports };
    } finally {
      await rm(dir, { recursive: true, force: true });
      forget();
    }
  })();
  done.catch(() => watch.ended()); // Whoever waits for the logins must not wait for a pgbench that never started.
  return {
    loggedIn: watch.loggedIn,
    done,
    async stop() {
      await (await started).child.stop('SIGINT');
      return done;
    },
  };
}

export function runPgbench(cleanup: Cleanup, conn: Connection, spec: PgbenchSpec, fdLimit: number): Promise<PgbenchResult> {
  return startPgbench(cleanup, conn, spec, fdLimit).done;
}
