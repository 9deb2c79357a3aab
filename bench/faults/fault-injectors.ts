// Owns the faults the fault scenario injects into Postgres under a pooler: terminating, killing and stopping backends, and a restart.
import type { BenchPostgres } from '../targets/bench-postgres.js';

export const FAULT_NAMES = ['terminate', 'kill-9', 'restart', 'sigstop'] as const;
export type FaultName = (typeof FAULT_NAMES)[number];

export const FAULT_LABELS: Record<FaultName, string> = {
  terminate: "pg_terminate_backend of every writer backend (the pooler's server connections)",
  'kill-9': 'kill -9 of one writer backend (Postgres restarts all backends and recovers from WAL)',
  restart: 'fast restart of Postgres (pg_ctl -m fast, then start)',
  sigstop: 'SIGSTOP of one writer backend for 5 s, then SIGCONT',
};

export const STOP_MS = 5000;

/** Backends of a role that are client sessions (the pooler's server connections, or direct clients). */
async function backends(postgres: BenchPostgres, role: string): Promise<number[]> {
  const rows = await postgres.query<{ pid: number }>(
    "SELECT pid FROM pg_stat_activity WHERE usename = $1 AND backend_type = 'client backend' ORDER BY pid",
    [role],
  );
  return rows.map((r) => r.pid);
}

async function oneBackend(postgres: BenchPostgres, role: string): Promise<number> {
  const pids = await backends(postgres, role);
  if (pids.length === 0) throw new Error(`no backend of role ${role} to inject a fault into`);
  return pids[Math.floor(pids.length / 2)];
}

export interface Injected {
  /** What was done, e.g. "SIGKILL to backend 123". */
  did: string;
  /** When the fault took effect (performance.now()): the signal, the terminate, the start of the shutdown. */
  at: number;
}

async function terminateAll(postgres: BenchPostgres, role: string): Promise<Injected> {
  const at = performance.now();
  const rows = await postgres.query<{ n: number }>(
    "SELECT count(pg_terminate_backend(pid))::int AS n FROM pg_stat_activity WHERE usename = $1 AND backend_type = 'client backend'",
    [role],
  );
  return { did: `terminated ${rows[0].n} backends`, at };
}

async function restart(postgres: BenchPostgres): Promise<Injected> {
  const at = performance.now();
  await postgres.server.restart();
  return { did: 'fast shutdown, start', at };
}

/** Sends one backend of the role a signal; for SIGSTOP, SIGCONT follows STOP_MS later. */
async function signal(postgres: BenchPostgres, role: string, sig: 'SIGKILL' | 'SIGSTOP'): Promise<Injected> {
  const pid = await oneBackend(postgres, role);
  const at = performance.now();
  process.kill(pid, sig);
  if (sig === 'SIGKILL') return { did: `SIGKILL to backend ${pid}`, at };
  await new Promise((r) => setTimeout(r, STOP_MS));
  process.kill(pid, 'SIGCONT');
  return { did: `SIGSTOP to backend ${pid}, SIGCONT ${STOP_MS / 1000} s later`, at };
}

/** Injects the fault and resolves when the injection itself is over (for sigstop: after SIGCONT). */
export function injectFault(fault: FaultName, postgres: BenchPostgres, role: string): Promise<Injected> {
  switch (fault) {
    case 'terminate':
      return terminateAll(postgres, role);
    case 'kill-9':
      return signal(postgres, role, 'SIGKILL');
    case 'restart':
      return restart(postgres);
    case 'sigstop':
      return signal(postgres, role, 'SIGSTOP');
  }
}
