// A node-postgres client with the cancel key it was given at login, for tests that send CancelRequests themselves.
import pg from 'pg';

/** node-postgres keeps the BackendKeyData it got at login here; Sluice handed these out, not Postgres. */
export interface KeyedClient extends pg.Client {
  processID: number;
  secretKey: number;
}

export async function connectKeyed(options: pg.ClientConfig): Promise<KeyedClient> {
  const c = new pg.Client(options) as KeyedClient;
  c.on('error', () => undefined);
  await c.connect();
  return c;
}
