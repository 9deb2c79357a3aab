// Owns bounded waits for events in integration tests (a bound on waiting, never a claim about timing), and clients watched for their end.
import pg from 'pg';
import type { ROLES, TeardownHost } from './postgres.js';
import type { TestSluice } from './sluice.js';

export type Failure = { code?: string; message: string; severity?: string };

/** A node-postgres client through Sluice whose asynchronous errors are kept and whose end can be awaited. */
export async function connectWatched(t: TeardownHost, sluice: TestSluice, user: keyof typeof ROLES = 'alice') {
  const client = new pg.Client(sluice.options(user));
  const errors: Failure[] = [];
  client.on('error', (err) => errors.push(err as Failure));
  const ended = new Promise<void>((resolve) => client.once('end', () => resolve()));
  await client.connect();
  t.teardown(() => client.end().catch(() => undefined));
  return { client, errors, ended };
}

/** Resolves with p's value, or fails the wait after ms. */
export function within<T>(what: string, p: Promise<T>, ms = 5000): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const limit = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), ms)));
  return Promise.race([p, limit]).finally(() => clearTimeout(timer));
}

/** Polls check until it holds, failing after timeoutMs. */
export async function waitFor(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 5000): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!(await check())) {
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}
