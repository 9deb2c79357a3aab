// Owns reading a process's CPU time and resident memory from /proc/<pid>/stat (Linux only).
import { readFile } from 'node:fs/promises';

export interface ProcSample {
  /** User + system CPU of the whole process (all threads), in clock ticks. */
  cpuTicks: number;
  /** Resident set size in pages. */
  rssPages: number;
}

/** The units /proc reports in; `getconf CLK_TCK` and `getconf PAGESIZE` on this machine. */
export interface ProcUnits {
  ticksPerSecond: number;
  pageBytes: number;
}

export const LINUX_DEFAULT_UNITS: ProcUnits = { ticksPerSecond: 100, pageBytes: 4096 };

/**
 * Parses one /proc/<pid>/stat line. The command name (field 2) sits in parentheses and may itself
 * contain spaces and ')', so the fields are counted from the last ')'.
 */
export function parseProcStat(text: string): ProcSample {
  const close = text.lastIndexOf(')');
  if (close < 0) throw new Error('not a /proc/<pid>/stat line: no ")"');
  // After ") ": field 3 (state) is index 0, so field N is index N - 3.
  const fields = text
    .slice(close + 2)
    .trim()
    .split(' ');
  const field = (n: number): number => {
    const value = Number(fields[n - 3]);
    if (!Number.isFinite(value)) throw new Error(`/proc/<pid>/stat field ${n} is not a number: ${fields[n - 3]}`);
    return value;
  };
  // 14 utime, 15 stime (ticks, all threads), 24 rss (pages).
  return { cpuTicks: field(14) + field(15), rssPages: field(24) };
}

export async function readProcStat(pid: number): Promise<ProcSample> {
  return parseProcStat(await readFile(`/proc/${pid}/stat`, 'utf8'));
}

/** CPU microseconds between two samples of the same process. */
export function cpuMicros(before: ProcSample, after: ProcSample, units: ProcUnits): number {
  return ((after.cpuTicks - before.cpuTicks) * 1e6) / units.ticksPerSecond;
}

export function rssMegabytes(sample: ProcSample, units: ProcUnits): number {
  return (sample.rssPages * units.pageBytes) / (1024 * 1024);
}

/** Samples a process every `intervalMs` until stopped; reports the peak RSS seen (MB). */
export function watchPeakRss(pid: number, units: ProcUnits, intervalMs = 200): { stop(): Promise<number> } {
  let peak = 0;
  const sample = async (): Promise<void> => {
    try {
      peak = Math.max(peak, rssMegabytes(await readProcStat(pid), units));
    } catch {
      // The process is gone; the peak so far stands.
    }
  };
  void sample();
  const timer = setInterval(() => void sample(), intervalMs);
  return {
    async stop() {
      clearInterval(timer);
      await sample();
      return peak;
    },
  };
}
