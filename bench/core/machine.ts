// Owns describing the machine and software a run measured, so every table says where it came from.
import { execFile } from 'node:child_process';
import os from 'node:os';
import { promisify } from 'node:util';
import { LINUX_DEFAULT_UNITS, type ProcUnits } from './proc-stat.js';

const exec = promisify(execFile);

export interface MachineInfo {
  cpu: string;
  cores: number;
  memoryGb: number;
  kernel: string;
  node: string;
  postgres: string;
  pgbouncer: string;
  pgbench: string;
  /** 1, 5 and 15 minute load averages when the scenario started: a busy machine makes noisy numbers. */
  loadAverage: number[];
}

export async function describeMachine(versions: { postgres: string; pgbouncer: string; pgbench: string }): Promise<MachineInfo> {
  const cpus = os.cpus();
  return {
    cpu: cpus[0]?.model.trim() ?? 'unknown',
    cores: cpus.length,
    memoryGb: Math.round(os.totalmem() / 2 ** 30),
    kernel: `${os.type()} ${os.release()}`,
    node: process.version,
    ...versions,
    loadAverage: os.loadavg().map((l) => Math.round(l * 100) / 100),
  };
}

async function getconf(name: string): Promise<number | undefined> {
  try {
    const value = Number((await exec('getconf', [name])).stdout.trim());
    return Number.isFinite(value) && value > 0 ? value : undefined;
  } catch {
    return undefined;
  }
}

export async function procUnits(): Promise<ProcUnits> {
  return {
    ticksPerSecond: (await getconf('CLK_TCK')) ?? LINUX_DEFAULT_UNITS.ticksPerSecond,
    pageBytes: (await getconf('PAGESIZE')) ?? LINUX_DEFAULT_UNITS.pageBytes,
  };
}

/** The hard open-files limit children inherit (`ulimit -Hn`); Infinity when unlimited. */
export async function hardFdLimit(): Promise<number> {
  const out = (await exec('sh', ['-c', 'ulimit -Hn'])).stdout.trim();
  return out === 'unlimited' ? Infinity : Number(out);
}

/** `pgbench --version`'s first line; undefined when pgbench is not installed. */
export async function pgbenchVersion(): Promise<string | undefined> {
  try {
    return (await exec('pgbench', ['--version'])).stdout.split('\n')[0]!.trim();
  } catch {
    return undefined;
  }
}
