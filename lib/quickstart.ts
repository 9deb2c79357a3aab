// `npm start` with no config: a throwaway Postgres, a database and user for it, and Sluice in front.
import crypto from 'node:crypto';
import pg from 'pg';
import { startLocalPostgres, type LocalPostgres } from './local-postgres/instance.js';
import { parseConfig } from './config/schema.js';
import type { SluiceConfig } from './config/types.js';

export interface Quickstart {
  postgres: LocalPostgres;
  config: SluiceConfig;
  user: string;
  password: string;
  database: string;
}

/** Starts the embedded Postgres and returns a config that serves database `app` to user `app`. */
export async function startQuickstart(listenPort: number, log: (line: string) => void): Promise<Quickstart> {
  const postgres = await startLocalPostgres({ log });
  const user = 'app';
  const database = 'app';
  const password = crypto.randomBytes(9).toString('base64url');
  const client = new pg.Client({
    host: postgres.host,
    port: postgres.port,
    user: postgres.superuser,
    password: postgres.password,
    database: 'postgres',
  });
  try {
    await client.connect();
    await client.query(`CREATE ROLE ${user} LOGIN PASSWORD '${password}'`);
    await client.query(`CREATE DATABASE ${database} OWNER ${user}`);
  } catch (err) {
    await postgres.stop();
    throw err;
  } finally {
    await client.end().catch(() => undefined);
  }
  const config = parseConfig(
    {
      listen_addr: '127.0.0.1',
      listen_port: listenPort,
      auth_type: 'scram-sha-256',
      admin_users: [user],
      pool_mode: 'transaction',
      databases: { [database]: { host: postgres.host, port: postgres.port, dbname: database } },
      users: { [user]: { password } },
    },
    { baseDir: process.cwd() },
  );
  return { postgres, config, user, password, database };
}
