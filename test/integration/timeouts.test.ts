// Proves Sluice's timeouts against real Postgres: query wait, client idle, idle in transaction, login, server idle, lifetime, min pool.
import net from 'node:net';
import t from 'tap';
import { startTestPostgres } from '../helpers/postgres.js';
import { startSluice } from '../helpers/sluice.js';
import { loginMd5 } from '../helpers/raw-client.js';
import { cstr, header, message } from '../helpers/bytes.js';
import { connectWatched, type Failure, waitFor, within } from '../helpers/wait.js';

const pgServer = await startTestPostgres(t);

/** Backends Postgres has open for a role (every one of them is a Sluice server connection in these tests). */
async function backends(user: string): Promise<number[]> {
  const rows = await pgServer.query('select pid from pg_stat_activity where usename = $1 order by pid', [user]);
  return rows.map((r) => r.pid as number);
}

t.test('query_wait_timeout fails the waiting query with an ERROR; the connection stays usable', async (t) => {
  const sluice = await startSluice(t, pgServer, { default_pool_size: 1, query_wait_timeout: 0.3 });
  const holder = await connectWatched(t, sluice);
  await holder.client.query('begin');
  await holder.client.query('select 1');
  const waiter = await connectWatched(t, sluice);

  const started = performance.now();
  const err = await within(
    'the query_wait_timeout error',
    waiter.client.query('select 2').then(
      () => null,
      (e: Failure) => e,
    ),
  );
  const waited = performance.now() - started;
  t.equal(err?.code, '53300');
  t.equal(err?.severity, 'ERROR');
  t.match(
    err?.message,
    /^query_wait_timeout: .*waited \d+ ms for a server connection to app\/alice$/,
    'names the time waited and the pool',
  );
  t.ok(waited >= 250, `it waited for the timeout first (${Math.round(waited)} ms)`);

  await holder.client.query('commit');
  t.same((await waiter.client.query('select 3 as n')).rows, [{ n: 3 }], 'the same connection runs a query afterwards');
  t.same(waiter.errors, [], 'and was never dropped');
});

t.test('client_idle_timeout disconnects an idle client with 08P01, but not one with a query running', async (t) => {
  const sluice = await startSluice(t, pgServer, { client_idle_timeout: 0.5 });
  const idle = await connectWatched(t, sluice);
  await idle.client.query('select 1');
  const busy = await connectWatched(t, sluice);
  const longQuery = busy.client.query('select pg_sleep(1.6) as slept');

  await within('the idle client to be disconnected', idle.ended);
  t.equal(idle.errors[0]?.code, '08P01');
  t.equal(idle.errors[0]?.message, 'client_idle_timeout: connection closed after being idle');
  t.same((await longQuery).rows, [{ slept: '' }], 'a client waiting on its own query is not idle');
});

t.test('idle_transaction_timeout disconnects with 25P03, rolls back, and keeps the server connection', async (t) => {
  await pgServer.query('create table if not exists itx_t (x int); grant all on itx_t to public; truncate itx_t');
  const sluice = await startSluice(t, pgServer, { default_pool_size: 1, idle_transaction_timeout: 0.5 });
  const idler = await connectWatched(t, sluice);
  await idler.client.query('begin');
  await idler.client.query('insert into itx_t values (1)');
  const [{ pid }] = (await idler.client.query('select pg_backend_pid() as pid')).rows;

  await within('the idle-in-transaction client to be disconnected', idler.ended);
  t.equal(idler.errors[0]?.code, '25P03');
  t.equal(idler.errors[0]?.message, 'idle_transaction_timeout: connection closed after idling inside a transaction');

  const next = await connectWatched(t, sluice);
  const { rows } = await next.client.query('select pg_backend_pid() as pid, (select count(*) from itx_t)::int as n');
  t.same(rows, [{ pid, n: 0 }], 'the insert was rolled back and the same backend serves the next client');
});

t.test('client_login_timeout closes a socket that never sends a startup packet', async (t) => {
  const sluice = await startSluice(t, pgServer, { client_login_timeout: 0.3 });
  const socket = net.connect({ host: '127.0.0.1', port: sluice.port });
  t.teardown(() => socket.destroy());
  let received = Buffer.alloc(0);
  socket.on('data', (d: Buffer) => (received = Buffer.concat([received, d])));
  await within('the connection', new Promise((resolve) => socket.once('connect', resolve)));
  const started = performance.now();
  await within('Sluice to close the socket', new Promise((resolve) => socket.once('close', resolve)));
  t.ok(performance.now() - started >= 250, 'after the timeout, not at once');
  t.equal(String.fromCharCode(received[0] ?? 0), 'E', 'an ErrorResponse came first');
  t.match(received.toString('latin1'), /C08P01\0Mclient_login_timeout: login did not complete in time\0/);
});

t.test('server_idle_timeout closes idle server connections', async (t) => {
  const sluice = await startSluice(t, pgServer, { server_idle_timeout: 0.5 });
  await waitFor('no carol backends', async () => (await backends('carol')).length === 0);
  const clients = await Promise.all([1, 2, 3].map(() => connectWatched(t, sluice, 'carol')));
  await Promise.all(clients.map((c) => c.client.query('select pg_sleep(0.1)')));
  t.equal((await backends('carol')).length, 3, 'three server connections were opened and are now idle');
  await waitFor('idle server connections to close', async () => (await backends('carol')).length === 0);
  t.pass('all three closed while their clients stayed connected');
  t.same((await clients[0].client.query('select 1 as n')).rows, [{ n: 1 }], 'a client gets a fresh one when it needs one');
});

t.test('server_lifetime replaces a connection after its lifetime, never mid-transaction', async (t) => {
  const sluice = await startSluice(t, pgServer, { default_pool_size: 1, server_lifetime: 0.5 });
  const { client } = await connectWatched(t, sluice, 'bob');
  await client.query('begin');
  const first = (await client.query('select pg_backend_pid() as pid')).rows[0].pid;
  // The transaction outlives server_lifetime by more than a janitor round (1 s).
  await client.query('select pg_sleep(1.6)');
  const later = (await client.query('select pg_backend_pid() as pid')).rows[0].pid;
  t.equal(later, first, 'the backend was kept for the whole transaction');
  await client.query('commit');
  const next = (await client.query('select pg_backend_pid() as pid')).rows[0].pid;
  t.not(next, first, 'the next transaction gets a new backend');
  await waitFor('the old backend to exit', async () => !(await backends('bob')).includes(first));
  t.same(await backends('bob'), [next], 'the old backend is gone');
});

t.test('min_pool_size keeps server connections open with no clients', async (t) => {
  const sluice = await startSluice(t, pgServer, { min_pool_size: 2, server_idle_timeout: 0.5 });
  await waitFor('no plainuser backends', async () => (await backends('plainuser')).length === 0);
  // Pools are created by a first login; after that the floor holds without any client.
  const { client } = await connectWatched(t, sluice, 'plainuser');
  await client.query('select 1');
  await client.end();
  await waitFor('the client to be gone', () => sluice.pooler.sessions.size === 0);
  await waitFor('two server connections', async () => (await backends('plainuser')).length === 2);
  const floor = await backends('plainuser');
  t.pass('two server connections appear with no client connected');
  // Count janitor rounds: two more (over 1 s) means both were idle past server_idle_timeout when swept.
  let sweeps = 0;
  const sweep = sluice.pooler.sweep.bind(sluice.pooler);
  sluice.pooler.sweep = () => {
    sweep();
    sweeps++;
  };
  await waitFor('two janitor rounds', () => sweeps >= 2);
  t.same(await backends('plainuser'), floor, 'the same two are kept despite server_idle_timeout');
});

t.test('idle_transaction_timeout also ends a client that stalls inside COPY data after the server ended the COPY', async (t) => {
  await pgServer.query('create table if not exists stall_copy (x int); grant all on stall_copy to public');
  const sluice = await startSluice(t, pgServer, { default_pool_size: 1, idle_transaction_timeout: 0.5 });
  const before = await backends('bob');
  const { client: raw } = await loginMd5(sluice.port);
  t.teardown(() => raw.destroy());
  raw.send(message('Q', cstr('copy stall_copy from stdin')));
  await raw.readUntil('G');
  // A bad row, then the start of a CopyData that never ends: Sluice keeps the link for the rest of it.
  raw.send(message('d', 'x\n'), header('d', 4 + 1000), Buffer.alloc(10));
  t.equal((await raw.readError()).code, '22P02');
  const [ready, timeout] = [await raw.readMessage(), await raw.readError(3000)];
  t.equal(ready.type, 'Z');
  t.equal(timeout.code, '25P03', 'the stalled client gets idle_transaction_timeout');
  t.ok(await raw.closesWithin(2000), 'and is disconnected');
  await waitFor('its backend to be closed', async () => (await backends('bob')).every((p) => before.includes(p)));
  const next = await connectWatched(t, sluice, 'bob');
  t.same((await next.client.query('select 1 as n')).rows, [{ n: 1 }], 'the next client is served on a fresh backend');
});
