// Proves the console's control commands on real traffic: PAUSE/RESUME hold and release transactions, KILL and KILL_CLIENT drop connections, RELOAD re-reads the file, WAIT_CLOSE and SHUTDOWN.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import t from 'tap';
import { loadConfigFile } from '../../lib/config/load.js';
import { startTestPostgres, type TeardownHost } from '../helpers/postgres.js';
import { rawConfig, startSluice, type TestSluice } from '../helpers/sluice.js';
import { consoleClient, eventually, psqlConsole } from '../helpers/console.js';
import { run } from '../helpers/run.js';

const pg1 = await startTestPostgres(t);
const ADMIN = { admin_users: ['alice'], stats_users: ['carol'] };

async function app(t: TeardownHost, sluice: TestSluice, applicationName = 'app'): Promise<pg.Client> {
  const c = new pg.Client({ ...sluice.options('bob'), application_name: applicationName });
  c.on('error', () => undefined);
  await c.connect();
  t.teardown(() => c.end().catch(() => undefined));
  return c;
}

/** Tracks a promise without awaiting it, so a test can check it is still pending. */
function track<T>(p: Promise<T>): { promise: Promise<T>; settled: () => boolean } {
  let settled = false;
  p.then(
    () => (settled = true),
    () => (settled = true),
  );
  return { promise: p, settled: () => settled };
}

async function poolRow(admin: pg.Client, user = 'bob') {
  return (await admin.query('SHOW POOLS')).rows.find((r) => r.database === 'app' && r.user === user);
}

t.test('PAUSE waits for the running transaction, holds new ones, and RESUME releases them', async (t) => {
  const sluice = await startSluice(t, pg1, ADMIN);
  const running = await app(t, sluice);
  const later = await app(t, sluice);
  await running.query('begin');
  await running.query('select 1');
  const admin = await consoleClient(t, sluice);
  const watcher = await consoleClient(t, sluice);

  const pause = track(admin.query('PAUSE app'));
  await running.query('select 2');
  t.notOk(pause.settled(), 'PAUSE does not answer while a transaction holds a server connection');
  const held = track(later.query('select 42 as answer'));
  await eventually('the new transaction to queue', async () => (await poolRow(watcher)).cl_waiting === 1);
  t.notOk(held.settled(), 'a new transaction is held');
  t.equal((await poolRow(watcher)).paused, 1);

  await running.query('commit');
  const answer = await pause.promise;
  t.equal(answer.command, 'PAUSE', 'PAUSE answers once the transaction has ended');
  const servers = (await watcher.query('SHOW SERVERS')).rows.filter((r) => r.database === 'app');
  t.same(servers, [], 'the idle server connections were closed, so the database can restart');
  t.notOk(held.settled(), 'still held after PAUSE completed');

  const resumed = await admin.query('RESUME app');
  t.equal(resumed.command, 'RESUME');
  t.same((await held.promise).rows, [{ answer: 42 }], 'RESUME releases the held transaction');
  t.same((await running.query('select 3 as n')).rows, [{ n: 3 }], 'and new ones run');
});

t.test('PAUSE and RESUME without a database, and the state errors', async (t) => {
  const sluice = await startSluice(t, pg1, ADMIN);
  const admin = await consoleClient(t, sluice);
  await t.rejects(admin.query('RESUME'), { code: '55000', message: /not paused/ });
  await t.rejects(admin.query('PAUSE nope'), { code: '3D000', message: /no such database: nope/ });
  t.equal((await admin.query('PAUSE')).command, 'PAUSE', 'nothing runs, so PAUSE answers at once');
  t.ok(sluice.pooler.scheduler.isPaused('app'));
  await t.rejects(admin.query('PAUSE'), { code: '55000', message: /already paused/ });
  await t.rejects(admin.query('RESUME app'), { code: '55000', message: /RESUME without a database/ });
  const viaPsql = await psqlConsole(sluice, 'RESUME');
  t.equal(viaPsql.code, 0, viaPsql.err);
  t.notOk(sluice.pooler.scheduler.isPaused('app'));
});

t.test("KILL drops the database's clients and servers at once; it stays paused until RESUME", async (t) => {
  const sluice = await startSluice(t, pg1, ADMIN);
  const idle = await app(t, sluice);
  const busy = await app(t, sluice);
  const errors: Error[] = [];
  idle.on('error', (e) => errors.push(e));
  await idle.query('select 1');
  await busy.query('begin');
  const inFlight = busy.query('select pg_sleep(30)').then(
    () => null,
    (e: Error) => e,
  );
  const admin = await consoleClient(t, sluice);
  await eventually('the sleep to reach the server', async () => (await poolRow(admin)).sv_active === 1);

  t.equal((await admin.query('KILL app')).command, 'KILL');
  t.match((await inFlight)?.message, /connection closed by the Sluice administrator|Connection terminated/, 'the running query fails');
  await eventually('the idle client to hear of it', () => errors.length >= 1);
  t.match(errors[0]!.message, /connection closed by the Sluice administrator/);
  t.equal((errors[0] as { code?: string }).code, '57P01');
  const pool = await poolRow(admin);
  t.equal(pool.sv_active + pool.sv_idle, 0, 'no server connection is left');
  t.equal(pool.paused, 1);

  const fresh = await app(t, sluice);
  const held = track(fresh.query('select 7 as n'));
  await eventually('the new transaction to queue', async () => (await poolRow(admin)).cl_waiting === 1);
  await admin.query('RESUME');
  t.same((await held.promise).rows, [{ n: 7 }]);
});

t.test('KILL_CLIENT ends one client; an unknown id is an error', async (t) => {
  const sluice = await startSluice(t, pg1, ADMIN);
  const victim = await app(t, sluice, 'victim');
  const bystander = await app(t, sluice, 'bystander');
  const errors: Error[] = [];
  victim.on('error', (e) => errors.push(e));
  const admin = await consoleClient(t, sluice);
  const row = (await admin.query('SHOW CLIENTS')).rows.find((r) => r.application_name === 'victim');
  t.ok(row, 'the victim is listed');
  const killed = await psqlConsole(sluice, `KILL_CLIENT ${row.id}`);
  t.equal(killed.out, 'KILL_CLIENT', killed.err);
  await eventually('the victim to hear of it', () => errors.length >= 1);
  t.equal((errors[0] as { code?: string }).code, '57P01');
  t.notOk(
    (await admin.query('SHOW CLIENTS')).rows.some((r) => r.application_name === 'victim'),
    'gone from SHOW CLIENTS',
  );
  t.same((await bystander.query('select 1 as n')).rows, [{ n: 1 }], 'other clients are untouched');
  await t.rejects(admin.query('KILL_CLIENT 999999'), { code: '42704', message: /no client with id 999999/ });
  await t.rejects(admin.query('KILL_CLIENT abc'), { code: '42601' });
});

t.test('RELOAD re-reads the configuration file; a broken file changes nothing', async (t) => {
  const dir = await mkdtemp(path.join(tmpdir(), 'sluice-console-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'sluice.yaml');
  const write = (o: Record<string, unknown>) => writeFile(file, JSON.stringify(rawConfig(pg1, { ...ADMIN, ...o })));
  await write({ default_pool_size: 5 });
  const sluice = await startSluice(t, pg1, { ...ADMIN, default_pool_size: 5 }, { configSource: () => loadConfigFile(file) });
  const admin = await consoleClient(t, sluice);
  const poolSize = async () => (await admin.query('SHOW CONFIG')).rows.find((r) => r.key === 'default_pool_size').value;
  t.equal(await poolSize(), '5');

  await write({ default_pool_size: 2 });
  t.equal((await admin.query('RELOAD')).command, 'RELOAD');
  t.equal(await poolSize(), '2', 'the new value is in force');
  t.equal(sluice.pooler.config.default_pool_size, 2);

  await writeFile(file, 'databases: {app: {host: x, port: abc}}\n');
  await t.rejects(admin.query('RELOAD'), { code: 'F0000', message: /reload refused.*databases\.app\.port: expected integer/s });
  t.equal(await poolSize(), '2', 'the running configuration stays');

  const noFile = await startSluice(t, pg1, ADMIN);
  const other = await consoleClient(t, noFile);
  await t.rejects(other.query('RELOAD'), { code: 'F0000', message: /started without a configuration file/ });
});

t.test('WAIT_CLOSE answers once connections a reload replaced are gone', async (t) => {
  const sluice = await startSluice(t, pg1, ADMIN);
  const client = await app(t, sluice);
  await client.query('begin');
  const pid = (await client.query('select pg_backend_pid() as pid')).rows[0].pid as number;
  // A new server address replaces the pool; the connection in use must close when it is handed back.
  sluice.reload({ databases: { app: { host: 'localhost', port: pg1.port, dbname: 'app' } } });
  const admin = await consoleClient(t, sluice);
  const old = (await admin.query('SHOW SERVERS')).rows.find((r) => r.remote_pid === pid);
  t.equal(old.close_needed, 1, 'SHOW SERVERS marks it close_needed');
  const wait = track(admin.query('WAIT_CLOSE app'));
  await client.query('select 1');
  t.notOk(wait.settled(), 'the old connection is still in use');
  await client.query('commit');
  // node-postgres keeps a command tag only up to its first non-letter: WAIT_CLOSE reads as WAIT.
  t.equal((await wait.promise).command, 'WAIT', 'WAIT_CLOSE answers once the transaction ended');
  t.notOk(
    (await admin.query('SHOW SERVERS')).rows.some((r) => r.remote_pid === pid),
    'the old connection is closed',
  );
  t.same((await client.query('select 5 as n')).rows, [{ n: 5 }], 'the client moved to the new pool');
});

t.test('SHUTDOWN answers, then stops Sluice: clients get 57P01 and new connections are refused', async (t) => {
  const sluice = await startSluice(t, pg1, ADMIN);
  const client = await app(t, sluice);
  const errors: Error[] = [];
  client.on('error', (e) => errors.push(e));
  await client.query('select 1');
  const admin = await consoleClient(t, sluice);
  t.equal((await admin.query('SHUTDOWN')).command, 'SHUTDOWN');
  await sluice.pooler.closed;
  await eventually('the client to hear of it', () => errors.length > 0);
  t.equal((errors[0] as { code?: string }).code, '57P01');
  const late = new pg.Client(sluice.options('bob'));
  late.on('error', () => undefined);
  await t.rejects(late.connect(), /ECONNREFUSED/);
});

t.test('every control command answers through psql with its command tag', async (t) => {
  const dir = await mkdtemp(path.join(tmpdir(), 'sluice-console-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'sluice.yaml');
  await writeFile(file, JSON.stringify(rawConfig(pg1, ADMIN)));
  const sluice = await startSluice(t, pg1, ADMIN, { configSource: () => loadConfigFile(file) });
  const victim = await app(t, sluice, 'psql-victim');
  const admin = await consoleClient(t, sluice);
  const id = (await admin.query('SHOW CLIENTS')).rows.find((r) => r.application_name === 'psql-victim').id;
  const commands = [
    `KILL_CLIENT ${id}`,
    'PAUSE app',
    'RESUME app',
    'KILL app',
    'RESUME',
    'RELOAD',
    'WAIT_CLOSE',
    'SHUTDOWN WAIT_FOR_CLIENTS',
  ];
  const r = await run('psql', ['-X', '-v', 'ON_ERROR_STOP=1', ...commands.flatMap((c) => ['-c', c]), 'pgbouncer'], {
    env: { ...sluice.env('alice'), PG_COLOR: 'never' },
  });
  t.equal(r.code, 0, r.err);
  t.same(r.out.split('\n'), ['KILL_CLIENT', 'PAUSE', 'RESUME', 'KILL', 'RESUME', 'RELOAD', 'WAIT_CLOSE', 'SHUTDOWN']);
  await t.rejects(victim.query('select 1'), 'KILL_CLIENT ended the victim');
  await sluice.pooler.closed;
  t.pass('SHUTDOWN WAIT_FOR_CLIENTS finished: no client was left after KILL');
});
