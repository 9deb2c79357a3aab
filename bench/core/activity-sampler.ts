// Owns sampling Postgres' busy backends per role (pg_stat_activity), the ground truth for slot use and shares.
import type pg from 'pg';

export interface ActivitySample {
  /** Milliseconds since the sampler started. */
  atMs: number;
  /** Backends in a transaction (active or idle in transaction), per role. */
  busy: Record<string, number>;
}

const BUSY_SQL = `SELECT usename, count(*)::int AS n FROM pg_stat_activity
  WHERE backend_type = 'client backend' AND state IN ('active', 'idle in transaction', 'idle in transaction (aborted)')
    AND usename = ANY($1) GROUP BY usename`;

/** Polls every `intervalMs` (back to back if a poll runs long) until stopped. */
export function startActivitySampler(client: pg.Client, roles: readonly string[], intervalMs = 50): { stop(): Promise<ActivitySample[]> } {
  const samples: ActivitySample[] = [];
  const started = performance.now();
  let running = true;
  const loop = (async () => {
    while (running) {
      const atMs = performance.now() - started;
      const { rows } = await client.query<{ usename: string; n: number }>(BUSY_SQL, [roles]);
      const busy: Record<string, number> = {};
      for (const r of rows) busy[r.usename] = r.n;
      samples.push({ atMs, busy });
      const wait = intervalMs - (performance.now() - started - atMs);
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      return samples;
    },
  };
}

/** Mean busy backends of `roles` together, over the samples. */
export function meanBusy(samples: readonly ActivitySample[], roles: readonly string[]): number {
  if (!samples.length) return NaN;
  let total = 0;
  for (const s of samples) for (const r of roles) total += s.busy[r] ?? 0;
  return total / samples.length;
}

/** Busy-backend sums per role (∝ slot-seconds), per window of `windowMs`, in role order. */
export function busyPerWindow(samples: readonly ActivitySample[], roles: readonly string[], windowMs: number): number[][] {
  const windows = new Map<number, number[]>();
  for (const s of samples) {
    const k = Math.floor(s.atMs / windowMs);
    let sums = windows.get(k);
    if (!sums) windows.set(k, (sums = roles.map(() => 0)));
    for (const [i, r] of roles.entries()) sums[i]! += s.busy[r] ?? 0;
  }
  return [...windows.entries()].sort((a, b) => a[0] - b[0]).map(([, sums]) => sums);
}
