// Proves malformed or hostile client input gets the documented FATAL (SQLSTATE and message) and never disturbs other clients.
import t, { type Test } from 'tap';
import pg from 'pg';
import { startTestPostgres } from '../helpers/postgres.js';
import { startSluice } from '../helpers/sluice.js';
import { cstr, header, message } from '../helpers/bytes.js';
import { RawClient, firstColumn, gssEncRequest, lengthOnly, loginMd5, sslRequest, startupPacket } from '../helpers/raw-client.js';

const MAX_PACKET = 1024;

const realPg = await startTestPostgres(t);
await realPg.query('create table terminate_t (n int)');
await realPg.query('grant all on terminate_t to public');
const sluice = await startSluice(t, realPg, { max_packet_size: MAX_PACKET, default_pool_size: 1 });

async function connectPg(user: 'alice' | 'bob' = 'alice', port = sluice.port): Promise<pg.Client> {
  const c = new pg.Client({ ...sluice.options(user), port });
  c.on('error', () => undefined);
  await c.connect();
  return c;
}

// A well-behaved client that stays connected through every case in this file.
const steady = await connectPg();
t.teardown(() => steady.end());

/** The steady client still works, and a brand-new login does too. */
async function assertStillServing(t: Test): Promise<void> {
  const { rows } = await steady.query('select $1::text as echo', [t.name]);
  t.equal(rows[0].echo, t.name, 'the steady client keeps working');
  const fresh = await loginMd5(sluice.port);
  t.same(firstColumn(await fresh.client.query('select 1')), ['1'], 'a new client logs in and queries');
  fresh.client.destroy();
}

/** Sends bytes on a fresh connection and returns the FATAL it gets, asserting the pooler then closes it. */
async function fatalFor(t: Test, ...bytes: Buffer[]): Promise<{ code: string; message: string; severity: string }> {
  const c = await RawClient.connect(sluice.port);
  c.send(...bytes);
  const err = await c.readError();
  t.ok(await c.closesWithin(2000), 'the pooler closes the connection after the FATAL');
  t.ok(c.drained, 'nothing follows the FATAL');
  return err;
}

/** Bob's only server connection (pool size 1): its backend pid shows whether it survived. */
async function bobBackendPid(): Promise<number> {
  const c = await connectPg('bob');
  const { rows } = await c.query('select pg_backend_pid() as pid');
  await c.end();
  return rows[0].pid;
}

t.test('garbage instead of a startup packet', async (t) => {
  const http = Buffer.from('GET / HTTP/1.1\r\nHost: sluice\r\n\r\n');
  t.same(await fatalFor(t, http), {
    severity: 'FATAL',
    code: '08P01',
    message: 'invalid packet: invalid length of startup packet',
  });
  const noise = Buffer.from('deadbeef0badf00d5eed1e55c0ffee00', 'hex');
  t.match(await fatalFor(t, noise), { code: '08P01', message: 'invalid packet: invalid length of startup packet' });
  // A plausible length and version, then names without terminators.
  const unterminated = Buffer.concat([lengthOnly(16), Buffer.from([0, 3, 0, 0]), Buffer.from('userbob!')]);
  t.match(await fatalFor(t, unterminated), { code: '08P01', message: 'invalid packet: malformed startup packet' });
  await assertStillServing(t);
});

t.test('startup packet lengths of 3 and 2^31-1', async (t) => {
  t.match(await fatalFor(t, lengthOnly(3)), { code: '08P01', message: 'invalid packet: invalid length of startup packet' });
  t.match(await fatalFor(t, lengthOnly(2 ** 31 - 1), Buffer.alloc(64)), {
    code: '08P01',
    message: 'invalid packet: invalid length of startup packet',
  });
  await assertStillServing(t);
});

t.test('startup packets Sluice refuses by content', async (t) => {
  t.same(await fatalFor(t, startupPacket({ database: 'app' })), {
    severity: 'FATAL',
    code: '28000',
    message: 'no PostgreSQL user name specified in startup packet',
  });
  t.same(await fatalFor(t, startupPacket({ user: 'bob', database: 'app' }, 0x0002_0000)), {
    severity: 'FATAL',
    code: '0A000',
    message: 'unsupported frontend protocol 2.0: Sluice speaks protocol 3.0',
  });
  t.same(await fatalFor(t, startupPacket({ user: 'bob', database: 'app', replication: 'database' })), {
    severity: 'FATAL',
    code: '0A000',
    message: 'replication connections are not supported by Sluice',
  });
  t.same(await fatalFor(t, startupPacket({ user: 'bob', database: 'nope' })), {
    severity: 'FATAL',
    code: '3D000',
    message: 'database "nope" is not configured in Sluice',
  });
  await assertStillServing(t);
});

t.test('SSLRequest and GSSENCRequest are refused with N, and the same socket then logs in normally', async (t) => {
  for (const [name, request] of [
    ['SSLRequest', sslRequest()],
    ['GSSENCRequest', gssEncRequest()],
  ] as const) {
    const c = await RawClient.connect(sluice.port);
    c.send(request);
    t.equal(await c.readByte(), 'N', `${name} answered N: no TLS or GSS is configured`);
    const { client } = await loginMd5(sluice.port, { client: c });
    t.same(firstColumn(await client.query('select current_user')), ['bob'], `a normal login after ${name}`);
    client.destroy();
  }
  await assertStillServing(t);
});

t.test('an unknown message type after login: 08P01, disconnected, and Postgres never sees it', async (t) => {
  const pidBefore = await bobBackendPid();
  const { client } = await loginMd5(sluice.port);
  client.send(message('z', cstr('what is this')));
  t.same(await client.readError(), { severity: 'FATAL', code: '08P01', message: "unknown message type 'z'" });
  t.ok(await client.closesWithin(2000), 'disconnected');
  t.equal(await bobBackendPid(), pidBefore, 'the server connection was not sacrificed to the bad message');
  await assertStillServing(t);
});

t.test('a message longer than max_packet_size: SLUICE_PACKET_TOO_LARGE', async (t) => {
  const { client } = await loginMd5(sluice.port);
  const sql = `select '${'x'.repeat(2048 - 10)}'`; // 2048 bytes with the NUL
  const big = message('Q', cstr(sql));
  t.equal(big.length, 2048 + 5);
  client.send(big);
  t.same(await client.readError(), {
    severity: 'FATAL',
    code: '08P01',
    message: `message of 2052 bytes exceeds max_packet_size (${MAX_PACKET})`,
  });
  t.ok(await client.closesWithin(2000), 'disconnected');
  t.ok(client.drained, 'the oversized query was never answered');
  await assertStillServing(t);
});

t.test('a message length below 4: SLUICE_BAD_PACKET', async (t) => {
  const { client } = await loginMd5(sluice.port);
  client.send(header('Q', 2), Buffer.from('xx'));
  t.same(await client.readError(), {
    severity: 'FATAL',
    code: '08P01',
    message: 'invalid packet: message length 2 is below the minimum of 4',
  });
  t.ok(await client.closesWithin(2000), 'disconnected');
  await assertStillServing(t);
});

t.test('Terminate mid-transaction: the transaction is rolled back and the server connection reused cleanly', async (t) => {
  const { client } = await loginMd5(sluice.port);
  await client.query('begin');
  await client.query('insert into terminate_t values (1)');
  const [pid] = firstColumn(await client.query('select pg_backend_pid()'));
  client.send(message('X'));
  t.ok(await client.closesWithin(2000), 'Sluice closes the client after Terminate');

  const next = await connectPg('bob');
  const { rows } = await next.query(
    'select pg_backend_pid() as pid, txid_current_if_assigned() as xid, (select count(*)::int from terminate_t) as n',
  );
  await next.end();
  t.same(rows, [{ pid: Number(pid), xid: null, n: 0 }], 'same backend, no open transaction, the insert rolled back');
  const [activity] = await realPg.query('select state from pg_stat_activity where pid = $1', [Number(pid)]);
  t.equal(activity?.state, 'idle', 'the backend is idle, not idle in transaction');
  await assertStillServing(t);
});

t.test('max_client_conn: 3 refuses the 4th client with 53300 and keeps serving the three', async (t) => {
  const small = await startSluice(t, realPg, { max_client_conn: 3 });
  const clients = [];
  for (let i = 0; i < 3; i++) clients.push(await connectPg('alice', small.port));
  const fourth = await RawClient.connect(small.port);
  t.same(await fourth.readError(), {
    severity: 'FATAL',
    code: '53300',
    message: 'no more connections allowed (max_client_conn=3)',
  });
  t.ok(await fourth.closesWithin(2000), 'the 4th is disconnected');
  for (const [i, c] of clients.entries()) {
    t.equal((await c.query('select $1::int as i', [i])).rows[0].i, i, `client ${i} keeps working`);
  }
  await clients.pop()?.end();
  // The pooler learns of the close asynchronously; a slot frees up shortly after.
  const deadline = Date.now() + 5000;
  let admitted: pg.Client | null = null;
  while (!admitted && Date.now() < deadline) admitted = await connectPg('alice', small.port).catch(() => null);
  t.ok(admitted, 'a new client gets in once one has left');
  await admitted?.end();
  for (const c of clients) await c.end();
  await assertStillServing(t);
});
