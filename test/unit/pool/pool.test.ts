// Tests Pool bookkeeping on fake time and fake sockets: LIFO reuse, release, lifetime, idle expiry, the min floor, reset, size cap, shrinking.
import { EventEmitter } from 'node:events';
import t from 'tap';
import { FakeClock } from '../../helpers/fake-clock.js';
import { move } from '../../../lib/list.js';
import { Pool, type PoolEvents, type PoolSettings } from '../../../lib/pool/pool.js';
import { ServerConnection } from '../../../lib/pool/server-connection.js';
import type { LoginResult } from '../../../lib/pool/server-login.js';
import * as encode from '../../../lib/protocol/encode.js';
import { TxStatus } from '../../../lib/protocol/codes.js';

/** Stands in for a logged-in backend socket: records writes, and the test plays the server by emitting 'data'. */
class FakeSocket extends EventEmitter {
  written: Buffer[] = [];
  destroyed = false;

  write(b: Buffer): boolean {
    this.written.push(b);
    return true;
  }

  end(b?: Buffer): void {
    if (b) this.written.push(b);
  }

  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    queueMicrotask(() => this.emit('close'));
  }

  /** Message type bytes of everything written, e.g. "QX" for a query then Terminate. */
  get types(): string {
    return this.written.map((b) => String.fromCharCode(b[0])).join('');
  }
}

const SETTINGS: PoolSettings = {
  database: 'app',
  budget: 'app/alice',
  target: { host: '127.0.0.1', port: 1, dbname: 'app', user: 'alice', sslmode: 'disable', connectTimeoutMs: 1000 },
  mode: 'transaction',
  size: 3,
  minSize: 0,
  idleTimeoutMs: 600_000,
  lifetimeMs: 3_600_000,
  resetQuery: 'DISCARD ALL',
  maxPreparedStatements: 200,
  pktBuf: 262_144,
};

function setup(overrides: Partial<PoolSettings> = {}) {
  const clock = new FakeClock(10_000);
  const idleEvents: number[] = [];
  const events: PoolEvents = { idle: () => void idleEvents.push(clock.now()), loginFailed: () => undefined };
  let nextId = 1;
  const pool = new Pool('app/alice', { ...SETTINGS, ...overrides }, clock, events, () => nextId++);
  const closedByPool = (c: ServerConnection) => (pool as unknown as { onServerClosed(c: ServerConnection): void }).onServerClosed(c);
  /** A connection that logged in now, sitting idle in the pool. */
  const add = (): { conn: ServerConnection; socket: FakeSocket } => {
    const socket = new FakeSocket();
    const id = nextId++;
    const login = { socket, params: new Map(), pid: id, secret: 0, tls: false } as unknown as LoginResult;
    const conn = new ServerConnection(id, login, clock.now(), closedByPool);
    move(conn, pool.idle);
    return { conn, socket };
  };
  return { clock, pool, add, idleEvents };
}

t.test('takeIdle hands out the most recently used connection and marks it used', async (t) => {
  const { pool, add } = setup();
  const a = add().conn;
  const b = add().conn;
  t.equal(pool.takeIdle(), b, 'warmest first');
  t.equal(b.list, pool.used);
  t.equal(pool.takeIdle(), a);
  t.equal(pool.takeIdle(), null, 'none left');
  t.same([pool.idle.size, pool.used.size, pool.total], [0, 2, 2]);
});

t.test('release puts a connection back, stamps it and signals idle', async (t) => {
  const { clock, pool, add, idleEvents } = setup();
  const { conn } = add();
  pool.takeIdle();
  conn.attach({} as never);
  clock.advance(250);
  pool.release(conn);
  t.equal(conn.list, pool.idle);
  t.equal(conn.link, null, 'detached from its client');
  t.equal(conn.lastUsedAt, clock.now());
  t.same(idleEvents, [clock.now()]);
});

t.test('a connection past server_lifetime is closed on release instead of reused', async (t) => {
  const { clock, pool, add, idleEvents } = setup({ lifetimeMs: 1000 });
  const { conn, socket } = add();
  pool.takeIdle();
  clock.advance(1000);
  pool.release(conn);
  t.ok(conn.closed);
  t.equal(socket.types, 'X', 'told the server goodbye with Terminate');
  t.equal(conn.list, null);
  t.equal(idleEvents.length, 1, 'its freed slot is signalled, so a queued client gets a fresh connection');
});

t.test('a retired pool closes connections handed back', async (t) => {
  const { pool, add } = setup();
  const { conn } = add();
  pool.takeIdle();
  pool.retired = true;
  pool.release(conn);
  t.ok(conn.closed);
  t.equal(pool.total, 0);
});

t.test('a pool made smaller closes idle surplus at once, coldest first, and busy surplus as it comes back', async (t) => {
  const { pool, add } = setup({ size: 4 });
  const conns = [add().conn, add().conn, add().conn, add().conn];
  const busy = [pool.takeIdle(), pool.takeIdle()] as ServerConnection[];
  t.same(busy, [conns[3], conns[2]], 'the two warmest are lent out');
  pool.settings = { ...pool.settings, size: 1 };
  pool.trimToSize();
  t.ok(conns[0].closed && conns[1].closed, 'both idle connections close');
  t.same([pool.idle.size, pool.used.size], [0, 2], 'the busy ones stay with their clients');
  pool.release(busy[0]);
  t.ok(busy[0].closed, 'the first one back is surplus and closes');
  pool.release(busy[1]);
  t.equal(busy[1].list, pool.idle, 'the last one back fits the new size and stays');
  t.equal(pool.total, 1);
});

t.test('a budget made smaller (max_server_connections) trims the pool to the slots its tally allows', async (t) => {
  const { pool, add } = setup({ size: 10 });
  const conns = [add().conn, add().conn, add().conn];
  pool.tally = { conns: 3, slots: 1 };
  pool.trimToSize();
  t.same(
    conns.map((c) => c.closed),
    [true, true, false],
    'the two coldest close',
  );
  t.same([pool.total, pool.tally.conns], [1, 1]);
});

t.test('sweep closes connections idle past server_idle_timeout, oldest first, and keeps younger ones', async (t) => {
  const { clock, pool, add } = setup({ idleTimeoutMs: 1000 });
  const old = add().conn;
  clock.advance(600);
  const young = add().conn;
  clock.advance(400);
  pool.sweep();
  t.ok(old.closed, 'idle for 1000 ms');
  t.notOk(young.closed, 'idle for 400 ms');
  clock.advance(600);
  pool.sweep();
  t.ok(young.closed);
  t.equal(pool.total, 0);
});

t.test('sweep never idles the pool below min_pool_size', async (t) => {
  const { clock, pool, add } = setup({ idleTimeoutMs: 1000, minSize: 2 });
  const conns = [add().conn, add().conn, add().conn];
  clock.advance(5000);
  pool.sweep();
  t.same(
    conns.map((c) => c.closed),
    [true, false, false],
    'only the one above the floor',
  );
  clock.advance(5000);
  pool.sweep();
  t.equal(pool.total, 2, 'the floor holds');
});

t.test('sweep closes idle connections past server_lifetime but leaves linked ones alone', async (t) => {
  const { clock, pool, add } = setup({ lifetimeMs: 1000 });
  const busy = add().conn;
  pool.takeIdle();
  const idle = add().conn;
  clock.advance(1000);
  pool.sweep();
  t.ok(idle.closed, 'expired and idle');
  t.notOk(busy.closed, 'never closed mid-transaction');
  t.equal(busy.list, pool.used);
});

t.test('a used connection that dies frees its slot for waiters', async (t) => {
  const { pool, add, idleEvents } = setup();
  const { conn } = add();
  pool.takeIdle();
  conn.close('server gone');
  t.equal(pool.total, 0);
  t.equal(idleEvents.length, 1, 'the scheduler is told to dispatch again');
});

t.test('launch never opens more than the pool size', async (t) => {
  const { pool, add } = setup({ size: 2 });
  add();
  add();
  pool.launch(5);
  t.equal(pool.connecting, 0, 'the pool is full, so nothing is launched');
  t.equal(pool.total, 2);
});

t.test('session hand-back runs server_reset_query, then reuses or closes', async (t) => {
  const { pool, add } = setup({ mode: 'session' });
  const ok = add();
  pool.takeIdle();
  ok.conn.statements.add('sluice_0123');
  pool.releaseWithReset(ok.conn);
  t.equal(ok.socket.types, 'Q', 'the reset query was sent');
  t.ok(ok.socket.written[0].includes(Buffer.from('DISCARD ALL\0')));
  t.equal(ok.conn.list, pool.used, 'not reusable until the server answers');
  ok.conn.librarySettings = 2;
  ok.socket.emit('data', encode.readyForQuery(TxStatus.Idle));
  t.equal(ok.conn.list, pool.used, 'not reusable until the reseed and library count answer');
  t.match(ok.socket.written[1].toString(), /setseed\(-?[01]\.\d+\)/, 'random() is reseeded');
  ok.socket.emit('data', Buffer.concat([encode.dataRow(['', '2', 'f']), encode.readyForQuery(TxStatus.Idle)]));
  t.equal(ok.conn.list, pool.idle, 'reusable when no library was loaded');
  t.notOk(ok.conn.statements.has('sluice_0123'), 'prepared statements are not trusted after the reset');
  t.ok(ok.conn.statements.isDoubtful('sluice_0123'), 'and are closed before being prepared again');

  const bad = add();
  pool.takeIdle();
  pool.releaseWithReset(bad.conn);
  bad.socket.emit(
    'data',
    Buffer.concat([encode.errorResponse({ severity: 'ERROR', sqlstate: 'XX000', message: 'boom' }), encode.readyForQuery(TxStatus.Idle)]),
  );
  t.ok(bad.conn.closed, 'a failed reset closes the connection');

  const loaded = add();
  pool.takeIdle();
  loaded.conn.librarySettings = 2;
  pool.releaseWithReset(loaded.conn);
  loaded.socket.emit('data', encode.readyForQuery(TxStatus.Idle));
  loaded.socket.emit('data', Buffer.concat([encode.dataRow(['', '9', 'f']), encode.readyForQuery(TxStatus.Idle)]));
  t.ok(loaded.conn.closed, 'a library loaded since login closes the connection');

  const temp = add();
  pool.takeIdle();
  pool.releaseWithReset(temp.conn);
  temp.socket.emit('data', encode.readyForQuery(TxStatus.Idle));
  temp.socket.emit('data', Buffer.concat([encode.dataRow(['', '0', 't']), encode.readyForQuery(TxStatus.Idle)]));
  t.ok(temp.conn.closed, 'a temp schema closes the connection');

  const { pool: noReset, add: addTo } = setup({ mode: 'session', resetQuery: '' });
  const plain = addTo();
  noReset.takeIdle();
  noReset.releaseWithReset(plain.conn);
  t.equal(plain.socket.types, '', 'an empty server_reset_query sends nothing');
  t.equal(plain.conn.list, noReset.idle);
});

t.test('closeIdle and closeAll', async (t) => {
  const { pool, add } = setup();
  const used = add().conn;
  pool.takeIdle();
  const idle = add().conn;
  pool.closeIdle('reload');
  t.same([idle.closed, used.closed], [true, false]);
  pool.closeAll('shutdown');
  t.ok(used.closed);
  t.equal(pool.total, 0);
});

t.test("what a login's completion sets off may throw: the pool reports it instead of an unhandled rejection", async (t) => {
  const clock = new FakeClock(0);
  let reported: unknown = null;
  const done = new Promise<void>((resolve) => {
    const events: PoolEvents = {
      idle: () => undefined,
      loginFailed: () => {
        throw new Error('boom in loginFailed');
      },
      fault: (_p, err) => {
        reported = err;
        resolve();
      },
    };
    // Port 1 refuses at once, so the login fails and its handler runs.
    const pool = new Pool('app/alice', SETTINGS, clock, events, () => 1);
    pool.launch(1);
  });
  await done;
  t.match(reported, { message: 'boom in loginFailed' });
});

t.test('a connection whose client sent a cancel goes back to idle only once Postgres has taken the cancel', async (t) => {
  const { pool, add } = setup();
  const { conn } = add();
  t.equal(pool.takeIdle(), conn);
  conn.cancelSent();
  conn.cancelSent();
  pool.release(conn);
  t.equal(conn.list, pool.used, 'held back while cancels are on their way');
  conn.cancelDone();
  t.equal(conn.list, pool.used, 'one cancel still on its way');
  conn.cancelDone();
  t.equal(conn.list, pool.idle, 'idle once the last one landed');
  t.equal(pool.takeIdle(), conn);
  pool.release(conn);
  t.equal(conn.list, pool.idle, 'no cancel, no wait');
});
