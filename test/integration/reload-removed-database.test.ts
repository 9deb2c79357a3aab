// Proves what a reload that removes a database does to its clients: they leave with SLUICE_DATABASE_REMOVED, never logging in per transaction.
import { once } from 'node:events';
import net from 'node:net';
import pg from 'pg';
import t from 'tap';
import { APP_DB, startTestPostgres, type TeardownHost } from '../helpers/postgres.js';
import { startSluice, type TestSluice } from '../helpers/sluice.js';
import { parseExposition } from '../helpers/exposition.js';
import { eventually } from '../helpers/console.js';

const pg1 = await startTestPostgres(t);
const target = { host: pg1.host, port: pg1.port, dbname: APP_DB };

async function connect(t: TeardownHost, sluice: TestSluice, user: 'alice' | 'bob', db: string): Promise<pg.Client> {
  const client = new pg.Client(sluice.options(user, db));
  client.on('error', () => undefined); // Tests that expect an error wait for it with once().
  await client.connect();
  t.teardown(() => client.end().catch(() => undefined));
  return client;
}

async function backendsOf(user: string): Promise<number> {
  return (await pg1.query('select count(*)::int as n from pg_stat_activity where usename = $1', [user]))[0].n;
}

/** Server logins Sluice made for a pool so far (sluice_pool_connect_seconds_count). */
async function serverLogins(sluice: TestSluice, pool: string): Promise<number> {
  const family = parseExposition(await sluice.pooler.metrics.scrape()).get('sluice_pool_connect_seconds');
  return family?.samples.find((s) => s.name.endsWith('_count') && s.labels.pool === pool)?.value ?? 0;
}

/** The database of every connected client, sorted. */
function databasesOfClients(sluice: TestSluice): string[] {
  return [...sluice.pooler.sessions.values()].map((s) => s.ident.database).sort();
}

/** Runs a transaction and returns its backend pid, or the error it failed with. */
async function backendPid(c: pg.Client): Promise<number | Error> {
  return c.query('select pg_backend_pid() as pid').then(
    (r) => r.rows[0].pid as number,
    (err: Error) => err,
  );
}

t.test(
  'clients of a removed database leave with SLUICE_DATABASE_REMOVED: idle ones at once, one in a transaction when it ends',
  async (t) => {
    // "gone" reaches the same server database as "app"; its clients log in as bob, so their backends can be told apart.
    const sluice = await startSluice(t, pg1, { databases: { app: target, gone: target } });
    const idle = await connect(t, sluice, 'bob', 'gone');
    const inTx = await connect(t, sluice, 'bob', 'gone');
    const other = await connect(t, sluice, 'alice', APP_DB);
    t.type(await backendPid(idle), 'number');
    await inTx.query('begin');
    const txPid = await backendPid(inTx);
    const idleError = once(idle, 'error');
    const txError = once(inTx, 'error');

    const appLogins = await serverLogins(sluice, 'app/alice');
    sluice.reload({ databases: { app: target } });
    // Checked first, so that where clients are not dropped the test fails here instead of waiting for an error forever.
    if (!t.same(databasesOfClients(sluice), [APP_DB, 'gone'], 'the idle client left at once; the one in a transaction stays')) return;
    const [idleErr] = (await idleError) as [pg.DatabaseError];
    t.equal(idleErr.code, '57P01', 'the idle client is told at once, with admin_shutdown');
    t.match(idleErr.message, /database "gone" was removed from the Sluice configuration by a reload/);

    t.equal(await backendPid(inTx), txPid, 'the running transaction goes on, on its own server connection');
    await inTx.query('commit');
    if (!t.same(databasesOfClients(sluice), [APP_DB], 'it left as its transaction ended')) return;
    const [txErr] = (await txError) as [pg.DatabaseError];
    t.equal(txErr.code, '57P01', 'the client in a transaction is told right after it ends');
    t.match(txErr.message, /"gone" was removed/);

    const loginsBefore = await serverLogins(sluice, 'gone/bob');
    for (const c of [idle, inTx]) {
      for (let i = 0; i < 5; i++) t.type(await backendPid(c), Error, 'no further transaction runs');
    }
    t.equal(await serverLogins(sluice, 'gone/bob'), loginsBefore, 'and no server login is made for them');
    await eventually('the removed database to keep no server connection', async () => (await backendsOf('bob')) === 0);
    t.type(await backendPid(other), 'number', 'the kept database works');
    t.equal(await serverLogins(sluice, 'app/alice'), appLogins, 'on the server connection it had: the reload made it no new login');
  },
);

t.test('a client whose login waits for the first server login of a removed database is refused at once', async (t) => {
  // A server that accepts and never answers: the pool's first login hangs until server_connect_timeout.
  const hang = net.createServer((s) => hung.push(s));
  const hung: net.Socket[] = [];
  await new Promise<void>((resolve) => hang.listen(0, '127.0.0.1', resolve));
  t.teardown(() => {
    for (const s of hung) s.destroy();
    hang.close();
  });
  const gone = { host: '127.0.0.1', port: (hang.address() as net.AddressInfo).port, dbname: APP_DB };
  const sluice = await startSluice(t, pg1, { server_connect_timeout: 10, databases: { app: target, gone } });
  const waiting = new pg.Client(sluice.options('bob', 'gone'));
  waiting.on('error', () => undefined);
  const login = waiting.connect().then(
    () => null,
    (e: pg.DatabaseError) => e,
  );
  await once(hang, 'connection');

  sluice.reload({ databases: { app: target } });
  const err = await login;
  t.equal(err?.code, '57P01', 'refused as soon as the database is removed, not after server_connect_timeout');
  t.match(err?.message, /database "gone" was removed from the Sluice configuration by a reload/);
});
