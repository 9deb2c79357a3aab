// Proves on real Postgres that a flooding tenant cannot inflate a quiet tenant's latency under fair scheduling, while FIFO lets it.
import pg from 'pg';
import t from 'tap';
import { startTestPostgres, type TeardownHost } from '../helpers/postgres.js';
import { startSluice, type TestSluice } from '../helpers/sluice.js';

/** 10 slots shared by every pool of database app; each tenant's pool could use all of them alone. */
const SLOTS = 10;
const BUDGET = { max_server_connections: SLOTS, default_pool_size: SLOTS, query_wait_timeout: 30 };
const FLOOD_CLIENTS = 50;
const FLOOD_SQL = 'select pg_sleep(0.05)';
const HOLD_MS = 50;

const pgServer = await startTestPostgres(t);

async function clients(t: TeardownHost, sluice: TestSluice, user: 'alice' | 'carol', n: number): Promise<pg.Client[]> {
  const out = await Promise.all(
    Array.from({ length: n }, async () => {
      const c = new pg.Client(sluice.options(user));
      c.on('error', () => undefined); // A failure shows up as a rejected query, which the test reports.
      await c.connect();
      return c;
    }),
  );
  t.teardown(() => Promise.all(out.map((c) => c.end().catch(() => undefined))));
  return out;
}

/** Tenant A: every client runs FLOOD_SQL back to back until stopped. */
function flood(conns: pg.Client[]): { stop(): Promise<number> } {
  let running = true;
  let done = 0;
  const loops = conns.map(async (c) => {
    while (running) {
      await c.query(FLOOD_SQL);
      done++;
    }
  });
  return {
    async stop() {
      running = false;
      await Promise.all(loops);
      return done;
    },
  };
}

/** Tenant B: each client runs `perClient` short queries back to back (closed loop); latency of each in ms. */
async function victim(conns: pg.Client[], perClient: number, warmup = 0): Promise<number[]> {
  const latencies: number[] = [];
  await Promise.all(
    conns.map(async (c) => {
      for (let i = 0; i < warmup + perClient; i++) {
        const started = performance.now();
        await c.query('select 1');
        if (i >= warmup) latencies.push(performance.now() - started);
      }
    }),
  );
  return latencies;
}

function percentile(xs: number[], p: number): number {
  const sorted = [...xs].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))]!;
}

const fmt = (ms: number): string => `${ms.toFixed(1)} ms`;

/** Samples pg_stat_activity until `want` flood backends run at once; returns the largest count seen. */
async function floodBackends(want: number, timeoutMs = 5000): Promise<number> {
  const deadline = performance.now() + timeoutMs;
  let best = 0;
  while (performance.now() < deadline) {
    const [{ n }] = await pgServer.query(`select count(*)::int as n from pg_stat_activity where state = 'active' and query = $1`, [
      FLOOD_SQL,
    ]);
    best = Math.max(best, n);
    if (best >= want) break;
    await new Promise((r) => setTimeout(r, 20));
  }
  return best;
}

interface Run {
  p50: number;
  p99: number;
  floodTxns: number;
  peakSlots: number;
}

/** Tenant A floods; once it fills the slots (work conservation), tenant B runs its workload. */
async function underFlood(t: TeardownHost, sluice: TestSluice, victims: pg.Client[], perClient: number): Promise<Run> {
  const floodConns = await clients(t, sluice, 'alice', FLOOD_CLIENTS);
  const noisy = flood(floodConns);
  const peakSlots = await floodBackends(SLOTS - 1);
  const lat = await victim(victims, perClient, 5);
  const floodTxns = await noisy.stop();
  await Promise.all(floodConns.map((c) => c.end()));
  return { p50: percentile(lat, 0.5), p99: percentile(lat, 0.99), floodTxns, peakSlots };
}

/**
 * The bound B's p99 must stay under while A floods, derived from the budget rather than tuned:
 * fair queueing puts B's transaction at the head of the line (its virtual time is far behind A's), so
 * it waits only for the earliest of the SLOTS running flood transactions to finish. That is HOLD_MS / SLOTS
 * (5 ms) on average when A's transactions are spread out, and at most one whole HOLD_MS (50 ms) when all
 * SLOTS of them started together, which closed-loop clients with equal holds tend to do (they stay in
 * phase). So B pays at most one flood transaction on top of its own latency: p99_alone + HOLD_MS.
 * FIFO instead queues B behind the (FLOOD_CLIENTS - SLOTS) waiting flood transactions:
 * (50 - 10) / 10 × 50 ms ≈ 200 ms, four times this bound, so the bound tells the two apart.
 */
function fairBound(p99Alone: number): number {
  return p99Alone + HOLD_MS;
}

/**
 * The test runs next to other test files on 2 cores; a burst of CPU contention during one run can
 * stall the process for tens of milliseconds and land in a p99 of 300 samples. So the fair
 * measurement (baseline, then flood) is repeated up to ATTEMPTS times and must meet the bound once.
 * A scheduling regression cannot pass that way: without fair queueing B's p50 alone is ~200 ms (FIFO).
 */
const ATTEMPTS = 5;

t.test(
  "a flooding tenant adds at most one flood transaction to a quiet tenant's p99 under fair scheduling; FIFO adds its whole backlog",
  async (t) => {
    const fair = await startSluice(t, pgServer, BUDGET);
    const quiet = await clients(t, fair, 'carol', 2);
    const lines: string[] = [];
    let met = false;
    let base = '';
    let bound = Infinity;
    for (let attempt = 1; attempt <= ATTEMPTS && !met; attempt++) {
      const alone = await victim(quiet, 150, 5);
      const p99Alone = percentile(alone, 0.99);
      bound = fairBound(p99Alone);
      base = `alone p50 ${fmt(percentile(alone, 0.5))} p99 ${fmt(p99Alone)}, bound ${fmt(bound)}`;
      const withFair = await underFlood(t, fair, quiet, 150);
      lines.push(`run ${attempt}: ${base}; fair under flood: p50 ${fmt(withFair.p50)} p99 ${fmt(withFair.p99)}`);
      t.ok(withFair.peakSlots >= SLOTS - 1, `work conservation: with B idle, A alone ran ${withFair.peakSlots} of ${SLOTS} slots at once`);
      t.ok(withFair.floodTxns > 0, `A kept running meanwhile (${withFair.floodTxns} flood transactions)`);
      met = withFair.p99 < bound;
    }
    t.ok(met, `fair: B's p99 stays under the bound (${lines.join(' | ')})`);

    // Same budget and workload through a FIFO Sluice: B's latency must break the bound, or the bound proves nothing.
    const fifo = await startSluice(t, pgServer, { ...BUDGET, scheduler: { mode: 'fifo' } });
    const fifoQuiet = await clients(t, fifo, 'carol', 2);
    const withFifo = await underFlood(t, fifo, fifoQuiet, 15);
    t.ok(withFifo.peakSlots >= SLOTS - 1, `fifo is work-conserving too (${withFifo.peakSlots} flood backends at once)`);
    t.ok(
      withFifo.p99 > bound,
      `fifo: B's p99 exceeds the bound (${base}; fifo under flood: p50 ${fmt(withFifo.p50)} p99 ${fmt(withFifo.p99)})`,
    );
  },
);
