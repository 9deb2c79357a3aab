// Proves Sluice's memory per client stays near pkt_buf whatever the result or message size: slow readers pause their server, slow servers pause their client, huge messages stream, queued pipelines pause their client.
import type net from 'node:net';
import t, { type Test } from 'tap';
import pg from 'pg';
import { startTestPostgres } from '../helpers/postgres.js';
import { startSluice, type TestSluice } from '../helpers/sluice.js';
import { consoleClient, eventually } from '../helpers/console.js';
import { errorFields, firstColumn, loginMd5, type RawClient } from '../helpers/raw-client.js';
import { parse, syncMsg } from '../helpers/wire.js';
import { cstr, message } from '../helpers/bytes.js';
import type { ClientSession } from '../../lib/session/client-session.js';
import { onreadSlots, SocketReader } from '../../lib/socket-read.js';

const PKT_BUF = 262_144;
// Beyond pkt_buf: the server read (up to 64 KiB) relayed before the check that pauses, and a client read in flight.
const SLACK = 256 * 1024;
const ROWS = 300;
const BIG_RESULT = `SELECT repeat('x', 1000000) FROM generate_series(1, ${ROWS})`;

/** Sockets whose every read is followed by a sample (see peakOf), after the session has handled it. */
const samplers = new WeakMap<net.Socket, () => void>();

/** The reader Sluice uses, below the stream where Node allows, with a sample after each read of a sampled socket. */
class SampledReader extends SocketReader {
  override read(socket: net.Socket, onChunk: (chunk: Buffer) => void): boolean {
    return super.read(socket, (chunk) => {
      onChunk(chunk);
      samplers.get(socket)?.();
    });
  }
}

const reader = new SampledReader(onreadSlots());
const realPg = await startTestPostgres(t);
const sluice = await startSluice(t, realPg, { admin_users: ['alice'], pkt_buf: PKT_BUF, default_pool_size: 2 }, { socketReader: reader });

t.ok(reader.direct, "client sockets are read below the stream here, as in production (not through 'data')");

function sessionOf(s: TestSluice, pid: number): ClientSession {
  for (const session of s.pooler.sessions.values()) if (session.ident.pid === pid) return session;
  throw new Error(`no session with key ${pid}`);
}

/** Counts the most bytes Sluice held for a session, sampled after it handled each read from its client. */
function peakOf(session: ClientSession): { bytes: number; reads: number } {
  const peak = { bytes: 0, reads: 0 };
  samplers.set(session.socket, () => {
    peak.reads++;
    peak.bytes = Math.max(peak.bytes, session.bufferedBytes);
  });
  return peak;
}

/**
 * The peak was measured (the client's reads were sampled), and stayed within pkt_buf and a read or two. A peak of
 * 0 is possible: a server that keeps up takes each read before the next one arrives.
 */
function heldWithin(t: Test, most: { bytes: number; reads: number }, what: string): void {
  t.ok(most.reads > 0, `the peak was sampled (${most.reads} reads, ${most.bytes} bytes at most)`);
  t.ok(most.bytes <= PKT_BUF + SLACK, `${what}: Sluice held at most ${most.bytes} bytes`);
}

/** A raw client logged in (bob) with its session, closed at teardown. */
async function rawClient(t: Test, on: TestSluice = sluice): Promise<{ client: RawClient; s: ClientSession }> {
  const { client, pid } = await loginMd5(on.port);
  t.teardown(() => client.destroy());
  return { client, s: sessionOf(on, pid) };
}

/** Reads the rest of the stream without keeping it; resolves with its size once it ends with ReadyForQuery. */
function drainToReady(client: RawClient): Promise<number> {
  const socket = client.socket;
  socket.removeAllListeners('data');
  return new Promise((resolve) => {
    let total = 0;
    let tail = Buffer.alloc(0);
    socket.on('data', (chunk: Buffer) => {
      total += chunk.length;
      tail = Buffer.concat([tail, chunk.subarray(Math.max(0, chunk.length - 6))]).subarray(-6);
      if (tail.equals(Buffer.from('Z\0\0\0\x05I', 'latin1'))) resolve(total);
    });
    socket.resume();
  });
}

async function bobServed(): Promise<number> {
  const other = new pg.Client(sluice.options('bob'));
  await other.connect();
  const { rows } = await other.query('select 41 + 1 as n');
  await other.end();
  return rows[0].n;
}

t.test(
  'a client that never reads a large result: its linked server is paused, buffering stays within pkt_buf, others are served',
  async (t) => {
    const { client, s } = await rawClient(t);
    client.socket.pause();
    client.send(message('Q', cstr(BIG_RESULT)));
    await eventually('the server connection to be paused', () => s.server?.readingPaused === true, 30_000);
    const server = s.server!;
    t.ok(
      s.bufferedBytes <= PKT_BUF + SLACK,
      `Sluice holds ${s.bufferedBytes} bytes for it, at most pkt_buf (${PKT_BUF}) and a read or two`,
    );

    t.equal(await bobServed(), 42, 'a well-behaved client of the same pool is served meanwhile');

    t.equal(s.server, server, 'the server connection stays linked');
    t.ok(server.readingPaused, 'and unread');
    t.equal(s.state, 'active', 'SHOW CLIENTS shows it active');
    const admin = await consoleClient(t, sluice);
    const { rows } = await admin.query('SHOW CLIENTS');
    const row = rows.find((r) => Number(r.id) === s.ident.id);
    t.ok(
      Number(row.buffered_bytes) > 0 && Number(row.buffered_bytes) <= PKT_BUF + SLACK,
      `SHOW CLIENTS buffered_bytes ${row.buffered_bytes}`,
    );

    const size = await drainToReady(client);
    t.ok(size > ROWS * 1_000_000, `once it reads, the whole result arrives (${size} bytes)`);
    await eventually('the server connection to go back to the pool', () => s.server === null);
    t.notOk(server.readingPaused, 'and it is read again in the pool');
  },
);

t.test('a client that leaves while its server is paused: the connection is closed, not pooled paused', async (t) => {
  const { client, s } = await rawClient(t);
  client.socket.pause();
  client.send(message('Q', cstr(BIG_RESULT)));
  await eventually('the server connection to be paused', () => s.server?.readingPaused === true, 30_000);
  const server = s.server!;
  client.destroy();
  await eventually('the server connection to close', () => server.closed);
  t.equal(await bobServed(), 42, 'the pool serves the next client');
});

t.test('a 50 MB Query streams through: the right answer, bounded buffering, and its server connection is not reused', async (t) => {
  const { client, s } = await rawClient(t);
  const most = peakOf(s);
  const text = 'y'.repeat(50_000_000);
  client.send(message('Q', cstr(`SELECT length('${text}')::text || ' ' || pg_backend_pid() AS r`)));
  const reply = await client.readUntil('Z', 120_000);
  const [length, backend] = (firstColumn(reply)[0] ?? '').split(' ');
  t.equal(length, '50000000', 'Postgres saw the whole text');
  heldWithin(t, most, 'the 50 MB Query');
  await eventually('the server connection that ran it to close', async () => {
    const gone = await realPg.query('select count(*)::int as n from pg_stat_activity where pid = $1', [Number(backend)]);
    return gone[0].n === 0;
  });
  t.pass('closed after the transaction, since the state guard could not read the statement');
  const again = await client.query('select 1');
  t.same(firstColumn(again), ['1'], 'the client carries on');
});

t.test('a large Query that arrives while input is held (a LISTEN served by the hub) streams through once it is released', async (t) => {
  const { client, s } = await rawClient(t);
  const most = peakOf(s);
  // One write: the LISTEN holds input while the hub subscribes, so the big Query's head and body are held.
  const big = message('Q', cstr(`select length('${'h'.repeat(2_000_000)}') as n`));
  client.send(message('Q', cstr('listen backpressure_ch')), big);
  const listen = await client.readUntil('Z', 30_000);
  t.ok(
    listen.some((m) => m.type === 'C' && m.body.toString().startsWith('LISTEN')),
    'LISTEN answered',
  );
  const reply = await client.readUntil('Z', 30_000);
  t.same(firstColumn(reply), ['2000000'], 'the held Query reached Postgres whole');
  heldWithin(t, most, 'the held Query');
});

t.test('a large Query after a refused Parse is dropped whole up to the Sync, and the stream stays in step', async (t) => {
  const strict = await startSluice(t, realPg, { pkt_buf: PKT_BUF, session_state: 'reject' });
  const { client } = await rawClient(t, strict);
  // The guard refuses the Parse and skips to Sync: the large Query between them streams nowhere.
  const big = message('Q', cstr(`select length('${'d'.repeat(1_000_000)}')`));
  client.send(parse('create temp table refused (x int)'), big, syncMsg());
  const replies = await client.readUntil('Z', 30_000);
  t.same(
    replies.map((m) => m.type),
    ['E', 'Z'],
    'the refusal, then ReadyForQuery at the Sync',
  );
  t.equal(errorFields(replies[0]).code, '0A000', 'session state refused (0A000)');
  t.same(firstColumn(await client.query('select 5')), ['5'], 'the next query is read from a message boundary');
});

t.test(
  "a 30 MB parameter through node-postgres streams through its unnamed Bind; a named statement's is gathered, and both answer right",
  async (t) => {
    const c = new pg.Client(sluice.options('bob'));
    await c.connect();
    t.teardown(() => c.end());
    const s = sessionOf(sluice, (c as unknown as { processID: number }).processID);
    const most = peakOf(s);
    const value = 'v'.repeat(30_000_000);
    const unnamed = await c.query('select length($1::text) as n', [value]);
    t.equal(unnamed.rows[0].n, 30_000_000, 'the unnamed statement saw the whole value');
    heldWithin(t, most, 'the unnamed Bind');
    most.bytes = 0;
    const named = await c.query({ name: 'big_param', text: 'select length($1::text) as n', values: [value] });
    t.equal(named.rows[0].n, 30_000_000, 'a named statement, renamed by Sluice, is gathered whole and still right');
    t.ok(most.bytes > 20_000_000, `the documented exception shows in the accounting: ${most.bytes} bytes gathered`);
    const again = await c.query({ name: 'big_param', text: 'select length($1::text) as n', values: ['abc'] });
    t.equal(again.rows[0].n, 3, 'and it can be used again');
  },
);

t.test("a server that does not take a client's pipeline: reading from the client stops beyond pkt_buf, and all is answered", async (t) => {
  const holder = new pg.Client(sluice.options('bob'));
  await holder.connect();
  t.teardown(() => holder.end());
  await holder.query('select pg_advisory_lock(4242)');
  const { client, s } = await rawClient(t);
  const most = peakOf(s);
  // Postgres waits for the lock and reads nothing more meanwhile: what follows piles up in front of it, well
  // beyond what the kernel buffers on loopback (a receive buffer may grow to net.ipv4.tcp_rmem's 32 MB).
  const n = 1500;
  const one = message('Q', cstr(`select 2 -- ${'w'.repeat(64_000)}`));
  client.send(message('Q', cstr('select pg_advisory_lock(4242)')), Buffer.concat(Array.from({ length: n }, () => one)));
  await eventually('reading from the client to pause', () => s.readingPaused && s.server !== null && !s.server.readingPaused, 60_000);
  heldWithin(t, most, `${n * one.length} bytes piled up`);
  await holder.query('select pg_advisory_unlock(4242)');
  let ready = 0;
  let errors = 0;
  while (ready < n + 1) {
    const m = await client.readMessage(30_000);
    if (m.type === 'Z') ready++;
    if (m.type === 'E') errors++;
  }
  t.equal(errors, 0, `the lock and all ${n} queries answered, none failed`);
  heldWithin(t, most, 'until all was answered');
  await client.query('select pg_advisory_unlock(4242)');
});

t.test('a client pipelining while it waits for a server stops being read beyond pkt_buf, and is served in full', async (t) => {
  const single = await startSluice(t, realPg, { pkt_buf: PKT_BUF, default_pool_size: 1 });
  const holder = new pg.Client(single.options('bob'));
  await holder.connect();
  await holder.query('begin');
  const { client, s } = await rawClient(t, single);
  const n = 2000;
  const one = message('Q', cstr(`select 1 -- ${'z'.repeat(1000)}`));
  client.send(Buffer.concat(Array.from({ length: n }, () => one)));
  await eventually('reading from the client to pause', () => s.readingPaused);
  t.equal(s.state, 'waiting', 'it waits for the one server connection');
  t.ok(s.bufferedBytes <= PKT_BUF + SLACK, `Sluice holds ${s.bufferedBytes} of its ${n * one.length} bytes`);
  await holder.query('commit');
  await holder.end();
  let ready = 0;
  let errors = 0;
  while (ready < n) {
    const m = await client.readMessage(30_000);
    if (m.type === 'Z') ready++;
    if (m.type === 'E') errors++;
  }
  t.equal(errors, 0, `all ${n} queries answered, none failed`);
  t.notOk(s.readingPaused, 'and it is read again');
});
