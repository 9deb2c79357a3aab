// Owns one real client login for the auth tests: the exchange the pooler asked for, who Postgres says we are, or the error.
import pg from 'pg';

export type SeenMethod = 'scram' | 'md5' | 'password' | 'trust';

const AUTH_EVENTS: Record<string, SeenMethod> = {
  authenticationSASL: 'scram',
  authenticationMD5Password: 'md5',
  authenticationCleartextPassword: 'password',
};

export interface LoginError {
  code?: string;
  message: string;
  severity?: string;
}

/** Logs in with node-postgres; reports the method asked for and current_user, then disconnects. */
export async function loginWith(config: pg.ClientConfig): Promise<{ method: SeenMethod; user: string }> {
  const client = new pg.Client(config);
  client.on('error', () => undefined);
  let method: SeenMethod = 'trust';
  for (const [event, seen] of Object.entries(AUTH_EVENTS)) client.connection.once(event, () => (method = seen));
  await client.connect();
  try {
    const { rows } = await client.query('select current_user as user');
    return { method, user: rows[0].user };
  } finally {
    await client.end();
  }
}

/** The error a login fails with; throws if it succeeds. */
export async function loginRefusal(config: pg.ClientConfig): Promise<LoginError> {
  try {
    await loginWith(config);
  } catch (err) {
    return err as LoginError;
  }
  throw new Error(`login as ${config.user} to ${config.database} via ${config.host} unexpectedly succeeded`);
}
