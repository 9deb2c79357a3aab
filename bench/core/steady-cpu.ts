// Owns a process's CPU per transaction over a load's steady state: from its first progress report to its last.
import { cpuMicros, readProcStat, type ProcSample, type ProcUnits } from './proc-stat.js';
import type { PgbenchProgress } from './pgbench-output.js';

export interface CpuPerTxn {
  /** CPU microseconds of the process in the window. */
  cpuUs: number;
  /** Transactions the load completed in the same window. */
  txns: number;
  usPerTxn: number;
}

/**
 * Logins happen before pgbench's first progress report, so starting the window there leaves the
 * connection setup (1,000 SCRAM logins at 1,000 clients) out of the per-transaction cost.
 */
export class SteadyCpu {
  private first: Promise<ProcSample | undefined> | undefined;
  private last: Promise<ProcSample | undefined> | undefined;
  private previous: number | undefined;
  private txns = 0;

  constructor(
    private readonly pid: number,
    private readonly units: ProcUnits,
  ) {}

  readonly onProgress = (p: PgbenchProgress): void => {
    const sample = readProcStat(this.pid).catch(() => undefined);
    if (this.previous === undefined) this.first = sample;
    else {
      this.txns += p.tps * (p.elapsedS - this.previous);
      this.last = sample;
    }
    this.previous = p.elapsedS;
  };

  /** Undefined when the load reported progress fewer than twice (too short a run) or the process vanished. */
  async result(): Promise<CpuPerTxn | undefined> {
    const [first, last] = await Promise.all([this.first, this.last]);
    if (!first || !last || this.txns <= 0) return undefined;
    const cpuUs = cpuMicros(first, last, this.units);
    return { cpuUs, txns: this.txns, usPerTxn: cpuUs / this.txns };
  }
}
