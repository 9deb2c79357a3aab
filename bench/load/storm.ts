// Child process: a connection storm; N clients log in at once with SCRAM and run one query each (JSON spec in, JSON report out).
import { summarize, type LatencySummary } from '../core/stats.js';
import { ScramKeyCache, WireClient, type WireConfig } from './wire-client.js';

/** argv[2] as JSON; the report is one JSON line on stdout. */
export interface StormSpec extends WireConfig {
  clients: number;
  sql: string;
}

export interface StormReport {
  clients: number;
  connected: number;
  queried: number;
  /** Error message → how many clients got it. */
  errors: Record<string, number>;
  connectMs: LatencySummary;
  queryMs: LatencySummary;
  /** From the first connect to the last answer. */
  wallMs: number;
}

function count(errors: Record<string, number>, message: string): void {
  const key = message.replace(/\d+/g, 'N');
  errors[key] = (errors[key] ?? 0) + 1;
}

async function main(spec: StormSpec): Promise<StormReport> {
  const cache = new ScramKeyCache();
  const errors: Record<string, number> = {};
  // Warm the key cache outside the storm, so the generator spends its CPU on sockets, not PBKDF2.
  (await WireClient.connect(spec, cache)).close();
  const connectMs: number[] = [];
  const queryMs: number[] = [];
  const clients: WireClient[] = [];
  const started = performance.now();
  await Promise.all(
    Array.from({ length: spec.clients }, async () => {
      const t0 = performance.now();
      let client: WireClient;
      try {
        client = await WireClient.connect(spec, cache);
      } catch (err) {
        count(errors, (err as Error).message);
        return;
      }
      const t1 = performance.now();
      connectMs.push(t1 - t0);
      clients.push(client);
      const outcome = await client.query(spec.sql);
      if (outcome.ok) queryMs.push(performance.now() - t1);
      else count(errors, `${outcome.code}: ${outcome.message}`);
    }),
  );
  const wallMs = performance.now() - started;
  for (const c of clients) c.close();
  return {
    clients: spec.clients,
    connected: connectMs.length,
    queried: queryMs.length,
    errors,
    connectMs: summarize(connectMs),
    queryMs: summarize(queryMs),
    wallMs,
  };
}

main(JSON.parse(process.argv[2]!) as StormSpec).then(
  (report) => {
    process.stdout.write(`${JSON.stringify(report)}\n`);
    process.exit(0);
  },
  (err) => {
    process.stderr.write(`storm: ${(err as Error).stack}\n`);
    process.exit(1);
  },
);
