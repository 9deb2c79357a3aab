// Proves a misbehaving backend (garbage, hung login, close mid-response) fails only its own client, with a clear error, and Sluice keeps serving.
import t, { type Test } from 'tap';
import pg from 'pg';
import { startTestPostgres } from '../helpers/postgres.js';
import { startSluice, type TestSluice } from '../helpers/sluice.js';
import { notificationResponse, startFakeBackend, type FakeBehaviour } from '../helpers/fake-backend.js';
import * as encode from '../../lib/protocol/encode.js';
import { errorFields, firstColumn, loginMd5 } from '../helpers/raw-client.js';
import { query } from '../helpers/bytes.js';

const realPg = await startTestPostgres(t);
// The first login to a fresh cluster builds its caches; keep that out of the short server_connect_timeout below.
await realPg.query('select 1');
/** Short enough to keep the file fast, long enough that a real login on a busy 2-core machine fits. */
const CONNECT_TIMEOUT_S = 1;

/** A Sluice serving the real `app` and database `fake` on a fake backend. */
async function setup(t: Test, behaviour: FakeBehaviour, overrides: Record<string, unknown> = {}) {
  const fake = await startFakeBackend(t, behaviour);
  const sluice = await startSluice(t, realPg, {
    ...overrides,
    databases: {
      app: { host: realPg.host, port: realPg.port, dbname: 'app' },
      fake: { host: '127.0.0.1', port: fake.port, dbname: 'fake' },
    },
  });
  return { fake, sluice };
}

async function connect(sluice: TestSluice, db: string): Promise<pg.Client> {
  const c = new pg.Client(sluice.options('alice', db));
  c.on('error', () => undefined); // Asynchronous FATALs are asserted through the awaited query.
  await c.connect();
  return c;
}

/** The real database still answers through the same Sluice, on a fresh client. */
async function assertAppServes(t: Test, sluice: TestSluice): Promise<void> {
  const c = await connect(sluice, 'app');
  const { rows } = await c.query('select 41 + 1 as n');
  t.equal(rows[0].n, 42, 'the healthy database keeps serving');
  await c.end();
}

async function waitFor(what: string, cond: () => boolean, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

function fakePool(sluice: TestSluice) {
  const pool = sluice.pooler.pools.get('fake\0alice');
  if (!pool) throw new Error('no pool for fake/alice yet');
  return pool;
}

t.test('garbage from a backend fails its linked client and nothing else', async (t) => {
  const { fake, sluice } = await setup(t, { kind: 'garbage', bytes: Buffer.from('HTTP/1.1 400 Bad Request\r\n\r\n') });
  const bystander = await connect(sluice, 'app');
  const victim = await connect(sluice, 'fake');
  const ended = new Promise((resolve) => victim.once('end', resolve));
  await t.rejects(victim.query('select 1'), {
    code: '08006',
    severity: 'FATAL',
    message: 'server connection lost: server sent a malformed message',
  });
  await ended;
  t.pass('the client was disconnected');
  t.same(fake.queries, ['select 1'], 'the garbage answered the client query');
  t.equal(fakePool(sluice).total, 0, 'the broken server connection is not kept');

  const { rows } = await bystander.query('select 7 as n');
  t.equal(rows[0].n, 7, 'a client of another database is unaffected');
  await bystander.end();
  await assertAppServes(t, sluice);

  fake.behaviour = { kind: 'ok' };
  const next = await connect(sluice, 'fake');
  t.same((await next.query('select 1')).rows, [{ x: '1' }], 'the next client of the same database works');
  t.equal(fake.logins, 2, 'on a freshly logged-in backend connection');
  await next.end();
});

t.test('a backend that hangs at login: server_connect_timeout fails the client login', async (t) => {
  const { fake, sluice } = await setup(t, { kind: 'hang-login' }, { server_connect_timeout: CONNECT_TIMEOUT_S });
  const started = performance.now();
  const c = new pg.Client(sluice.options('alice', 'fake'));
  c.on('error', () => undefined);
  await t.rejects(c.connect(), {
    code: '08006',
    message: 'could not log in to the server for fake/alice: server_connect_timeout (1000 ms) reached',
  });
  const waited = performance.now() - started;
  t.ok(waited >= 950 && waited < 3000, `the error came after server_connect_timeout, not later (${Math.round(waited)} ms)`);
  t.equal(fake.logins, 0, 'the fake never answered a login');
  await assertAppServes(t, sluice);
});

t.test('a backend that starts hanging: a waiting query gets query_wait_timeout naming the cause', async (t) => {
  const { fake, sluice } = await setup(t, { kind: 'ok' }, { server_connect_timeout: CONNECT_TIMEOUT_S, query_wait_timeout: 3 });
  const c = await connect(sluice, 'fake');
  t.same((await c.query('select 1')).rows, [{ x: '1' }]);
  fake.behaviour = { kind: 'hang-login' };
  fake.dropAll();
  await waitFor('the pool to notice its backend is gone', () => fakePool(sluice).total === 0);

  const started = performance.now();
  const err = await c.query('select 1').then(
    () => null,
    (e: Error & { code?: string; severity?: string }) => e,
  );
  const waited = performance.now() - started;
  t.ok(err, 'the query fails');
  t.equal(err?.code, '53300');
  t.equal(err?.severity, 'ERROR');
  t.match(
    err?.message ?? '',
    /^query_wait_timeout: tenant "alice" class "default" waited \d+ ms for a server connection to fake\/alice \(last server error: server_connect_timeout \(1000 ms\) reached\)$/,
  );
  t.equal(fake.logins, 1, 'no later login got through');
  t.ok(waited >= 2900 && waited < 6000, `the wait is bounded by query_wait_timeout (${Math.round(waited)} ms)`);

  fake.behaviour = { kind: 'ok' };
  t.same((await c.query('select 1')).rows, [{ x: '1' }], 'the same client connection works once the backend recovers');
  await c.end();
  await assertAppServes(t, sluice);
});

t.test('a backend that closes between messages of a response: the complete messages, then SLUICE_SERVER_CONNECTION_LOST', async (t) => {
  const { fake, sluice } = await setup(t, { kind: 'close-mid-response', at: 'boundary' });
  const { client } = await loginMd5(sluice.port, { database: 'fake' });
  client.send(query('select 1'));
  const { messages, leftover } = await client.readToEnd();
  t.same(
    messages.map((m) => m.type),
    ['T', 'D', 'E'],
    'RowDescription, DataRow, then the error; never ReadyForQuery',
  );
  t.same(firstColumn(messages), ['a value long enough to be cut in half']);
  t.match(errorFields(messages[2]), {
    severity: 'FATAL',
    code: '08006',
    message: 'server connection lost: server closed the connection',
  });
  t.equal(leftover.length, 0, 'nothing after the error: the client was disconnected');
  t.same(fake.queries, ['select 1']);
  await assertAppServes(t, sluice);
});

t.test('a backend that closes inside a message: the client is disconnected, never fed an error spliced into a torn frame', async (t) => {
  const { fake, sluice } = await setup(t, { kind: 'close-mid-response', at: 'mid-message' });
  const { client } = await loginMd5(sluice.port, { database: 'fake' });
  client.send(query('select 1'));
  const { messages, leftover } = await client.readToEnd();
  t.same(
    messages.map((m) => m.type),
    ['T'],
    'only the complete RowDescription is a whole message',
  );
  t.equal(leftover[0], 'D'.charCodeAt(0), 'the torn DataRow is what trails');
  t.notOk(leftover.includes('server connection lost'), 'no ErrorResponse bytes were appended inside the torn DataRow');
  t.same(fake.queries, ['select 1']);

  const c = await connect(sluice, 'fake');
  await t.rejects(c.query('select 1'), { message: 'Connection terminated unexpectedly' }, 'node-postgres sees a plain disconnect');
  await assertAppServes(t, sluice);
});

t.test(
  'a message that follows ReadyForQuery and is cut across reads reaches its own client whole, and only then is the connection released',
  async (t) => {
    const note = notificationResponse(4242, 'ch', 'x'.repeat(200));
    const reply = Buffer.concat([
      encode.rowDescription([{ name: 'x', typeOid: 25 }]),
      encode.dataRow(['1']),
      encode.commandComplete('SELECT 1'),
      encode.ReadyForQueryIdle,
    ]);
    // pool_size 1: the next client gets the very connection whose async message is half sent.
    const { fake, sluice } = await setup(
      t,
      { kind: 'garbage', bytes: Buffer.concat([reply, note.subarray(0, 20)]) },
      { default_pool_size: 1 },
    );
    const { client: first } = await loginMd5(sluice.port, { database: 'fake' });
    first.send(query('select 1'));
    t.same(
      (await first.readUntil('Z')).map((m) => m.type),
      ['T', 'D', 'C', 'Z'],
    );

    fake.behaviour = { kind: 'ok' };
    const { client: second, pid } = await loginMd5(sluice.port, { database: 'fake' });
    second.send(query('select 1'));
    const waiting = () => [...sluice.pooler.sessions.values()].some((s) => s.ident.pid === pid && s.state === 'waiting');
    while (!waiting()) await new Promise((r) => setTimeout(r, 5));
    fake.write(note.subarray(20));
    const notification = await first.readMessage();
    t.equal(notification.type, 'A', 'the first client gets the whole notification');
    t.ok(notification.raw.equals(note));
    t.same(
      (await second.readUntil('Z')).map((m) => m.type),
      ['T', 'D', 'C', 'Z'],
      'the second client gets a clean reply of its own',
    );
    t.same(firstColumn(await second.query('select 1')), ['1']);
    first.destroy();
    second.destroy();
  },
);
