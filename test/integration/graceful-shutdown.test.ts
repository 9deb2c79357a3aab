// Proves the lifecycle: SIGTERM lets a transaction in flight commit and exits 0, idle clients get a clean FATAL, shutdown_timeout cuts stragglers, SIGINT stops at once.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import t from 'tap';
import { startTestPostgres, type TeardownHost } from '../helpers/postgres.js';
import { rawConfig, startSluice } from '../helpers/sluice.js';
import { startCli } from '../helpers/cli.js';
import { consoleClient, eventually } from '../helpers/console.js';

const pg1 = await startTestPostgres(t);
await pg1.query('create table if not exists shutdown_t (id int, note text)');
await pg1.query('grant all on shutdown_t to public');

async function configFile(t: TeardownHost, overrides: Record<string, unknown>): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), 'sluice-shutdown-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'sluice.yaml');
  await writeFile(file, JSON.stringify(rawConfig(pg1, overrides)));
  return file;
}

interface Watched {
  client: pg.Client;
  errors: Array<Error & { code?: string }>;
}

async function connect(t: TeardownHost, port: number, user: 'alice' | 'bob' = 'bob'): Promise<Watched> {
  const passwords = { alice: 'alice-secret', bob: 'bob-secret' };
  const client = new pg.Client({ host: '127.0.0.1', port, user, password: passwords[user], database: 'app' });
  const errors: Watched['errors'] = [];
  client.on('error', (e) => errors.push(e));
  await client.connect();
  t.teardown(() => client.end().catch(() => undefined));
  return { client, errors };
}

const rowsWith = async (note: string): Promise<number> =>
  (await pg1.query('select count(*)::int as n from shutdown_t where note = $1', [note]))[0].n;

t.test('SIGTERM: a transaction in flight commits, idle clients get 57P01, then the process exits 0', async (t) => {
  const sluice = await startCli(t, await configFile(t, { shutdown_timeout: 20 }));
  const busy = await connect(t, sluice.port);
  const idle = await connect(t, sluice.port);
  await idle.client.query('select 1');
  await busy.client.query('begin');
  await busy.client.query(`insert into shutdown_t values (1, 'sigterm')`);

  sluice.child.kill('SIGTERM');
  await sluice.waitForLog(/^shutting down/);
  await eventually('the idle client to be told', () => idle.errors.length > 0);
  t.equal(idle.errors[0]!.code, '57P01', 'a clean FATAL: Sluice is shutting down');
  t.match(idle.errors[0]!.message, /Sluice is shutting down/);
  const late = new pg.Client({ host: '127.0.0.1', port: sluice.port, user: 'bob', password: 'bob-secret', database: 'app' });
  late.on('error', () => undefined);
  await t.rejects(late.connect(), /ECONNREFUSED/, 'no new clients');

  await busy.client.query(`insert into shutdown_t values (2, 'sigterm')`);
  await busy.client.query('commit');
  t.equal(await rowsWith('sigterm'), 2, 'the transaction committed');
  t.equal(await sluice.exited, 0, 'the process exits 0 once its last transaction ended');
  await eventually('the busy client to be told too', () => busy.errors.length > 0);
  t.equal(busy.errors[0]!.code, '57P01');
  const disconnects = sluice.lines.filter((l) => l.msg === 'client disconnected');
  t.ok(
    disconnects.length >= 2 && disconnects.every((l) => typeof l.reason === 'string' && l.client && l.user && l.db && l.tenant),
    'every disconnect was logged with its reason, client id, tenant, database and user',
  );
});

t.test('SIGINT stops at once: the open transaction is cut and rolled back, exit code 0', async (t) => {
  const sluice = await startCli(t, await configFile(t, {}));
  const busy = await connect(t, sluice.port);
  await busy.client.query('begin');
  await busy.client.query(`insert into shutdown_t values (1, 'sigint')`);
  sluice.child.kill('SIGINT');
  t.equal(await sluice.exited, 0);
  await eventually('the client to be cut off', () => busy.errors.length > 0);
  await eventually('Postgres to roll the transaction back', async () => (await rowsWith('sigint')) === 0);
  t.pass('nothing of the cut transaction was committed');
});

t.test('shutdown_timeout: a transaction that does not finish in time is cut off', async (t) => {
  const sluice = await startSluice(t, pg1, { shutdown_timeout: 0.5 });
  const { client, errors } = await connect(t, sluice.port);
  await client.query('begin');
  await client.query(`insert into shutdown_t values (1, 'straggler')`);
  const started = performance.now();
  await sluice.pooler.drain();
  t.ok(performance.now() - started >= 400, 'the drain waited for the transaction until shutdown_timeout');
  await eventually('the client to be told', () => errors.length > 0);
  t.equal(errors[0]!.code, '57P01');
  await eventually('Postgres to roll the straggler back', async () => (await rowsWith('straggler')) === 0);
});

t.test('SHUTDOWN WAIT_FOR_SERVERS drains like SIGTERM; WAIT_FOR_CLIENTS keeps idle clients until they leave', async (t) => {
  const servers = await startSluice(t, pg1, { admin_users: ['alice'] });
  const busy = await connect(t, servers.port);
  await busy.client.query('begin');
  const admin = await consoleClient(t, servers);
  t.equal((await admin.query('SHUTDOWN WAIT_FOR_SERVERS')).command, 'SHUTDOWN');
  await t.rejects(admin.query('PAUSE'), { code: '55000', message: /shutting down/ }, 'control commands are refused while draining');
  await busy.client.query(`insert into shutdown_t values (1, 'wait_for_servers')`);
  await busy.client.query('commit');
  await servers.pooler.closed;
  t.equal(await rowsWith('wait_for_servers'), 1);

  const clients = await startSluice(t, pg1, { admin_users: ['alice'] });
  const stay = await connect(t, clients.port);
  const admin2 = await consoleClient(t, clients);
  await admin2.query('SHUTDOWN WAIT_FOR_CLIENTS');
  t.same((await stay.client.query('select 1 as n')).rows, [{ n: 1 }], 'an idle client keeps working');
  let closed = false;
  void clients.pooler.closed.then(() => (closed = true));
  await stay.client.query('select 2');
  t.notOk(closed, 'Sluice waits for its clients');
  await stay.client.end();
  await clients.pooler.closed;
  t.pass('it stops once the last client has left');
});
