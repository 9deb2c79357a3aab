// Owns what every scenario shares: the context it runs in, its result shape, and recording failures as rows.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Cleanup } from '../core/cleanup.js';
import { startChild, type Child } from '../core/child.js';
import type { Connection } from '../core/pgbench.js';
import type { ProcUnits } from '../core/proc-stat.js';
import { DATABASE, type BenchPostgres, type Role } from '../targets/bench-postgres.js';
import type { Endpoint, Target, TargetName } from '../targets/target.js';

export const SCENARIO_NAMES = ['throughput', 'fairfifo', 'noisy', 'storm', 'idle', 'http', 'faults', 'soak', 'logins'] as const;
export type ScenarioName = (typeof SCENARIO_NAMES)[number];
/** What a bare `npm run bench` runs: faults, soak and logins only when named (a soak takes 10 minutes by itself). */
export const DEFAULT_SCENARIOS: readonly ScenarioName[] = ['throughput', 'fairfifo', 'noisy', 'storm', 'idle', 'http'];

export interface BenchOptions {
  /** Measured seconds of each run. */
  seconds: number;
  quick: boolean;
  /** Open-files limit children ask for (capped at the hard limit). */
  fdLimit: number;
  /** Idle clients the idle scenario connects: 10,000 unless the open-files limit allows fewer. */
  idleClients: number;
  /** How long the soak scenario runs. */
  soakSeconds: number;
}

export interface BenchContext {
  readonly options: BenchOptions;
  /** The repository root (where package.json is). */
  readonly rootDir: string;
  readonly cleanup: Cleanup;
  readonly postgres: BenchPostgres;
  /** Available targets, in report order (direct, PgBouncer, Sluice). */
  readonly targets: readonly Target[];
  readonly units: ProcUnits;
  progress(line: string): void;
}

export type Metrics = Record<string, string | number | boolean | null | undefined>;

/** One table row: which variant, through which target, and its measurements (null when not measured). */
export interface Row extends Metrics {
  variant: string;
  target: TargetName;
  /** Set when this run failed or was not possible; the other fields may be missing. */
  error?: string;
}

export interface ScenarioOutcome {
  rows: Row[];
  /** Settings and caveats a reader needs next to the table. */
  notes: string[];
}

export interface Scenario {
  readonly name: ScenarioName;
  readonly title: string;
  run(ctx: BenchContext): Promise<ScenarioOutcome>;
  /** Markdown for this scenario's rows. */
  render(outcome: ScenarioOutcome): string;
}

export function connection(endpoint: Endpoint, ctx: BenchContext, role: Role): Connection {
  return { host: endpoint.host, port: endpoint.port, user: role, password: ctx.postgres.password[role], database: DATABASE };
}

/** Runs one measurement; a failure becomes a row carrying the error, so the rest of the bench goes on. */
export async function attempt(ctx: BenchContext, variant: string, target: TargetName, measure: () => Promise<Row>): Promise<Row> {
  try {
    return await measure();
  } catch (err) {
    const message = (err as Error).message.split('\n').slice(0, 3).join(' ');
    ctx.progress(`  ${variant} via ${target}: FAILED: ${message}`);
    return { variant, target, error: message };
  }
}

/** attempt() for a measurement that gives several rows: its rows, or one row carrying the error. */
export async function attemptRows(ctx: BenchContext, variant: string, target: TargetName, measure: () => Promise<Row[]>): Promise<Row[]> {
  let rows: Row[] = [];
  const row = await attempt(ctx, variant, target, async () => {
    rows = await measure();
    return { variant, target };
  });
  return row.error ? [row] : rows;
}

/** bench/load/<name>.js next to this compiled file. */
export function loadScript(name: string): string {
  return path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'load', `${name}.js`);
}

/** Starts a load generator child with its JSON spec; its report is the last JSON line it prints. */
export function startLoad(ctx: BenchContext, name: string, spec: object, onLine?: (line: string) => void): Child {
  return startChild(ctx.cleanup, process.execPath, [loadScript(name), JSON.stringify(spec)], {
    fdLimit: ctx.options.fdLimit,
    onLine: onLine && ((line, stream) => stream === 'stdout' && onLine(line)),
  });
}

/** Runs a load generator to the end and parses its report. */
export async function runLoad<T>(ctx: BenchContext, name: string, spec: object, timeoutMs: number): Promise<T> {
  const child = startLoad(ctx, name, spec);
  const timer = setTimeout(() => void child.stop('SIGKILL'), timeoutMs);
  const result = await child.done;
  clearTimeout(timer);
  const line = result.stdout.trim().split('\n').pop() ?? '';
  if (result.code !== 0 || !line.startsWith('{')) {
    throw new Error(`${name} generator failed (exit ${result.code ?? result.signal}): ${result.stderr.trim().slice(-500)}`);
  }
  return JSON.parse(line) as T;
}

/** A long-running generator: its first JSON line says it is ready, its last one (after SIGTERM) is its report. */
export interface RunningLoad<R, T> {
  readonly ready: Promise<R>;
  stop(): Promise<T>;
}

export function startReadyLoad<R, T>(ctx: BenchContext, name: string, spec: object): RunningLoad<R, T> {
  const lines: string[] = [];
  let onFirst: (line: string) => void = () => undefined;
  const first = new Promise<string>((resolve) => (onFirst = resolve));
  const child = startLoad(ctx, name, spec, (line) => {
    if (!line.startsWith('{')) return;
    lines.push(line);
    onFirst(line);
  });
  const failed = (r: { code: number | null; stderr: string }) =>
    new Error(`${name} generator exited (${r.code}): ${r.stderr.trim().slice(-300)}`);
  const ready = Promise.race([first, child.done.then((r) => Promise.reject(failed(r)))]).then((line) => JSON.parse(line) as R);
  ready.catch(() => undefined); // Awaited by the caller; a stop() without it must not leave an unhandled rejection.
  return {
    ready,
    async stop() {
      const r = await child.stop('SIGTERM', 30_000);
      await new Promise((resolve) => setImmediate(resolve)); // The last line may trail the exit event.
      const last = lines.at(-1);
      if (r.code !== 0 || !last) throw failed(r);
      return JSON.parse(last) as T;
    },
  };
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
