// Proves every client disconnect is logged exactly once, with its reason, client id, tenant, database and user, whatever ended it.
import { Writable } from 'node:stream';
import pg from 'pg';
import t from 'tap';
import { createLogger } from '../../lib/log.js';
import { startTestPostgres } from '../helpers/postgres.js';
import { startSluice } from '../helpers/sluice.js';
import { consoleClient, eventually } from '../helpers/console.js';
import { loginMd5, RawClient, startupPacket } from '../helpers/raw-client.js';
import { message } from '../helpers/bytes.js';

interface Line {
  msg: string;
  client?: number;
  tenant?: string | null;
  db?: string;
  user?: string;
  reason?: string;
  console?: boolean;
}

/** A logger writing JSON lines into memory. */
function captureLog(): { log: ReturnType<typeof createLogger>; lines: () => Line[] } {
  let text = '';
  const sink = new Writable({
    write(chunk, _enc, done) {
      text += String(chunk);
      done();
    },
  });
  return {
    log: createLogger({ level: 'debug', destination: sink }),
    lines: () =>
      text
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as Line),
  };
}

const pg1 = await startTestPostgres(t);

t.test('each way a session ends leaves one log line naming the client, tenant, database, user and reason', async (t) => {
  const { log, lines } = captureLog();
  const sluice = await startSluice(
    t,
    pg1,
    {
      admin_users: ['alice'],
      client_idle_timeout: 0.3,
      tenant_key: 'application_name',
      tenant_pattern: '^tenant-(\\w+)',
    },
    { log },
  );
  const open = async (app: string) => {
    const c = new pg.Client({ ...sluice.options('bob'), application_name: app });
    c.on('error', () => undefined);
    await c.connect();
    await c.query('select 1');
    return c;
  };
  const disconnects = () => lines().filter((l) => l.msg === 'client disconnected');
  const ended = (id: number) => disconnects().filter((l) => l.client === id);
  const idOf = async (admin: pg.Client, app: string) =>
    Number((await admin.query('SHOW CLIENTS')).rows.find((r) => r.application_name === app).id);
  const admin = await consoleClient(t, sluice);

  const polite = await open('tenant-acme');
  const politeId = await idOf(admin, 'tenant-acme');
  await polite.end();
  await eventually('the Terminate to be logged', () => ended(politeId).length === 1);
  t.match(ended(politeId)[0], { tenant: 'acme', db: 'app', user: 'bob', reason: 'client sent Terminate' });

  const abrupt = await open('tenant-globex');
  const abruptId = await idOf(admin, 'tenant-globex');
  (abrupt as unknown as { connection: { stream: { destroy(): void } } }).connection.stream.destroy();
  await eventually('the lost socket to be logged', () => ended(abruptId).length === 1);
  t.match(ended(abruptId)[0], { tenant: 'globex', reason: 'client closed the connection' });

  const _killed = await open('tenant-initech');
  const killedId = await idOf(admin, 'tenant-initech');
  await admin.query(`KILL_CLIENT ${killedId}`);
  await eventually('the kill to be logged', () => ended(killedId).length === 1);
  t.match(ended(killedId)[0], { tenant: 'initech', reason: /^SLUICE_CLIENT_KILLED: / });

  const sleepy = await open('tenant-sleepy');
  const sleepyId = await idOf(admin, 'tenant-sleepy');
  await eventually('client_idle_timeout to end the idle client', () => ended(sleepyId).length === 1);
  t.match(ended(sleepyId)[0], { tenant: 'sleepy', reason: /^SLUICE_CLIENT_IDLE_TIMEOUT: / });
  t.ok(sleepy);

  const raw = await loginMd5(sluice.port);
  raw.client.send(message('?', Buffer.from('junk')));
  await raw.client.closed;
  await eventually('the protocol violation to be logged', () => disconnects().some((l) => /^SLUICE_UNKNOWN_MESSAGE/.test(l.reason ?? '')));

  for (const l of disconnects()) {
    t.type(l.client, 'number', `client id in ${JSON.stringify(l)}`);
    t.ok(l.db && l.user && l.reason, `database, user and reason in ${JSON.stringify(l)}`);
    t.ok('tenant' in l, 'a tenant field');
  }
  const ids = disconnects().map((l) => l.client);
  t.equal(new Set(ids).size, ids.length, 'no disconnect is logged twice');
});

t.test('logins that fail, and console sessions, are logged too', async (t) => {
  const { log, lines } = captureLog();
  const sluice = await startSluice(t, pg1, { admin_users: ['alice'] }, { log });
  const bad = new pg.Client({ ...sluice.options('bob'), password: 'not-the-password' });
  bad.on('error', () => undefined);
  await t.rejects(bad.connect(), { code: '28P01' });
  await eventually('the refused login to be logged', () => lines().some((l) => l.msg === 'client disconnected during login'));
  t.match(
    lines().find((l) => l.msg === 'client disconnected during login'),
    { user: 'bob', db: 'app', reason: /^SLUICE_AUTH_FAILED: / },
  );

  const raw = await RawClient.connect(sluice.port);
  raw.send(startupPacket({ user: 'bob', database: 'app' }));
  await raw.readMessage();
  raw.socket.destroy();
  await eventually('a client that left mid-login to be logged', () =>
    lines().some((l) => l.reason === 'client closed the connection during login' && l.user === 'bob'),
  );

  const admin = await consoleClient(t, sluice);
  await admin.end();
  await eventually('the console session to be logged', () => lines().some((l) => l.msg === 'client disconnected' && l.console === true));
  t.match(
    lines().find((l) => l.console === true),
    { user: 'alice', db: 'pgbouncer', reason: 'client sent Terminate' },
  );
});
