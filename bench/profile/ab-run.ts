// A/B check for one change: PgBouncer, a baseline Sluice build and this build take turns on the same workloads in one run.
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Cleanup } from '../core/cleanup.js';
import { procUnits } from '../core/machine.js';
import { runPgbench, type QueryMode } from '../core/pgbench.js';
import type { ProcUnits } from '../core/proc-stat.js';
import { runLoad } from '../scenarios/scenario.js';
import type { StormReport } from '../load/storm.js';
import { startBenchPostgres, type BenchPostgres } from '../targets/bench-postgres.js';
import { findPgbouncer, PgbouncerTarget } from '../targets/pgbouncer-target.js';
import { SluiceTarget } from '../targets/sluice-target.js';
import { RelayTarget } from '../targets/relay-target.js';
import { DEFAULT_POOL, type Endpoint, type Target } from '../targets/target.js';

const USAGE = `usage: node dist-bench/bench/profile/ab-run.js [--baseline OLD/dist/cli.js] [--relays stream,onread,handle] [--rounds 2] [--seconds 6] simple:50 extended:200@4000 storm:2000`;
const FD_LIMIT = 20_000;

interface Cpu {
  user: number;
  sys: number;
}

/** User and system CPU microseconds of a process, from /proc/<pid>/stat fields 14 and 15. */
async function cpuOf(pid: number, units: ProcUnits): Promise<Cpu> {
  const text = await readFile(`/proc/${pid}/stat`, 'utf8');
  const f = text.slice(text.lastIndexOf(')') + 2).split(' ');
  const us = (ticks: string) => (Number(ticks) * 1e6) / units.ticksPerSecond;
  return { user: us(f[11]!), sys: us(f[12]!) };
}

/** One workload through one endpoint: a row of tps (or connect p99) and CPU per transaction (or client). */
async function measure(
  workload: string,
  ep: Endpoint,
  pg: BenchPostgres,
  cleanup: Cleanup,
  seconds: number,
  units: ProcUnits,
): Promise<string> {
  // kind:clients, or kind:clients@rate for a fixed offered rate (pgbench -R): every target then serves the same
  // load, so CPU per transaction compares the work per transaction rather than how busy the machine let it be.
  const [kind, spec] = workload.split(':') as [string, string];
  const [n, rate] = spec.split('@') as [string, string | undefined];
  const conn = { host: ep.host, port: ep.port, user: 'bench', password: pg.password.bench, database: 'app' };
  const pid = ep.pid!;
  if (kind === 'storm') {
    const before = await cpuOf(pid, units);
    const ctx = { cleanup, options: { fdLimit: FD_LIMIT } } as Parameters<typeof runLoad>[0];
    const r = await runLoad<StormReport>(ctx, 'storm', { ...conn, clients: Number(n), sql: 'SELECT 1' }, 180_000);
    const after = await cpuOf(pid, units);
    const per = (k: keyof Cpu) => (after[k] - before[k]) / Number(n);
    return `connect p99 ${r.connectMs.p99.toFixed(0)} ms, CPU/client ${(per('user') + per('sys')).toFixed(0)} µs (user ${per('user').toFixed(0)}, sys ${per('sys').toFixed(0)})`;
  }
  let first: Promise<Cpu> | undefined;
  let txns = 0;
  const res = await runPgbench(
    cleanup,
    conn,
    {
      clients: Number(n),
      mode: kind as QueryMode,
      seconds,
      steady: true,
      rate: rate ? Number(rate) : undefined,
      onProgress: (p) => {
        if (first) txns += p.tps;
        else first = cpuOf(pid, units);
      },
    },
    FD_LIMIT,
  );
  // pgbench that failed (PgBouncer 1.18 with -M prepared) reports no progress to measure between.
  if (!first) return `no steady progress: ${res.summary.errors[0] ?? 'pgbench ended early'}`;
  const after = await cpuOf(pid, units);
  const before = await first;
  const per = (k: keyof Cpu) => (after[k] - before[k]) / txns;
  const tps = txns / Math.max(1, res.progress.length - 1);
  return `tps ${tps.toFixed(0)}, CPU/txn ${(per('user') + per('sys')).toFixed(1)} µs (user ${per('user').toFixed(1)}, sys ${per('sys').toFixed(1)})`;
}

async function main(argv: string[]): Promise<void> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      baseline: { type: 'string' },
      relays: { type: 'string' },
      rounds: { type: 'string', default: '2' },
      seconds: { type: 'string', default: '6' },
    },
  });
  if (positionals.length === 0) throw new Error(USAGE);
  const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
  const cleanup = new Cleanup();
  cleanup.installSignalHandlers();
  try {
    const pg = await startBenchPostgres(cleanup, 1);
    const units = await procUnits();
    const bouncer = await findPgbouncer();
    const targets: [string, Target][] = [['this build', new SluiceTarget(cleanup, pg, path.join(root, 'dist', 'cli.js'), FD_LIMIT)]];
    if (values.baseline) targets.unshift(['baseline', new SluiceTarget(cleanup, pg, path.resolve(values.baseline), FD_LIMIT)]);
    // Bare relays (no pooling, one backend per client): what Node's socket layers cost by themselves.
    for (const mode of values.relays?.split(',').filter(Boolean) ?? []) {
      if (mode !== 'stream' && mode !== 'onread' && mode !== 'handle') throw new Error(`unknown relay mode ${mode}\n${USAGE}`);
      targets.push([`relay ${mode}`, new RelayTarget(cleanup, pg, mode, FD_LIMIT)]);
    }
    if (bouncer) targets.unshift(['PgBouncer', new PgbouncerTarget(cleanup, pg, bouncer, FD_LIMIT)]);
    for (let round = 1; round <= Number(values.rounds); round++) {
      for (const workload of positionals) {
        for (const [name, target] of targets) {
          const ep = await target.start(DEFAULT_POOL);
          console.log(
            `round ${round} ${workload.padEnd(14)} ${name.padEnd(12)} ${await measure(workload, ep, pg, cleanup, Number(values.seconds), units)}`,
          );
          await target.stop();
        }
      }
    }
  } finally {
    await cleanup.runAll();
  }
}

main(process.argv.slice(2)).catch((err: Error) => {
  console.error(err.message);
  process.exit(1);
});
