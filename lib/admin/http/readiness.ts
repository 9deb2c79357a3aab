// Readiness: the listener accepts clients and every database's server answers, judged by live connections or a TCP probe.
import net from 'node:net';
import { serverConnectOptions } from '../../pool/server-address.js';

export interface BackendTarget {
  readonly name: string;
  readonly host: string;
  readonly port: number;
}

export interface ReadinessReport {
  ready: boolean;
  listening: boolean;
  /** Per database: "reachable", or why not. */
  databases: Record<string, string>;
}

export interface ReadinessInput {
  listening: boolean;
  databases: Iterable<BackendTarget>;
  /** Databases with a logged-in server connection right now: proven reachable without a probe. */
  connected: ReadonlySet<string>;
  timeoutMs: number;
}

export const REACHABLE = 'reachable';

/** Opens (and at once closes) a TCP connection; resolves with REACHABLE or the reason it failed. */
export function probe(host: string, port: number, timeoutMs: number): Promise<string> {
  return new Promise((resolve) => {
    const s = net.connect(serverConnectOptions(host, port));
    const done = (result: string): void => {
      s.destroy();
      resolve(result);
    };
    s.setTimeout(timeoutMs, () => done(`no answer from ${host}:${port} within ${timeoutMs} ms`));
    s.once('connect', () => done(REACHABLE));
    s.once('error', (err: NodeJS.ErrnoException) => done(`cannot connect to ${host}:${port}: ${err.code ?? err.message}`));
  });
}

export async function checkReadiness(input: ReadinessInput): Promise<ReadinessReport> {
  const dbs = [...input.databases];
  const results = await Promise.all(
    dbs.map((db) => (input.connected.has(db.name) ? Promise.resolve(REACHABLE) : probe(db.host, db.port, input.timeoutMs))),
  );
  const databases: Record<string, string> = {};
  for (const [i, db] of dbs.entries()) databases[db.name] = results[i]!;
  return { ready: input.listening && results.every((r) => r === REACHABLE), listening: input.listening, databases };
}
