// Child process: N clients log in with SCRAM and stay idle until SIGTERM (JSON spec in, JSON report out).
import { ScramKeyCache, WireClient, type WireConfig } from './wire-client.js';

/** argv[2] as JSON; the report is one JSON line on stdout once every client has tried to log in. */
export interface IdleSpec extends WireConfig {
  clients: number;
  /** Logins in flight at once: this is a crowd arriving, not a storm. */
  concurrency: number;
}

export interface IdleReport {
  connected: number;
  failed: number;
  errors: Record<string, number>;
  /** Clients that were connected but dropped before the report. */
  dropped: number;
  connectWallMs: number;
}

async function main(spec: IdleSpec): Promise<void> {
  const cache = new ScramKeyCache();
  const clients: WireClient[] = [];
  const errors: Record<string, number> = {};
  let failed = 0;
  let dropped = 0;
  let next = 0;
  const started = performance.now();
  const worker = async (): Promise<void> => {
    while (next < spec.clients) {
      next++;
      try {
        const client = await WireClient.connect(spec, cache);
        client.onClose = () => dropped++;
        clients.push(client);
      } catch (err) {
        failed++;
        const key = (err as Error).message.replace(/\d+/g, 'N');
        errors[key] = (errors[key] ?? 0) + 1;
      }
    }
  };
  await Promise.all(Array.from({ length: spec.concurrency }, worker));
  const report: IdleReport = { connected: clients.length - dropped, failed, errors, dropped, connectWallMs: performance.now() - started };
  process.stdout.write(`${JSON.stringify(report)}\n`);
  process.once('SIGTERM', () => {
    for (const c of clients) {
      c.onClose = () => undefined;
      c.close();
    }
    process.exit(0);
  });
  setInterval(() => undefined, 1 << 30);
}

main(JSON.parse(process.argv[2]!) as IdleSpec).catch((err) => {
  process.stderr.write(`idle: ${(err as Error).stack}\n`);
  process.exit(1);
});
