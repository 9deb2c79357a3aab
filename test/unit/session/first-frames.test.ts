// Checks frames kept before a link leave in one write, after the client's session parameters when the server's differ.
import t from 'tap';
import type { ServerConnection } from '../../../lib/pool/server-connection.js';
import { FirstFrames, type FirstFramesHost } from '../../../lib/session/first-frames.js';
import { ClientParams } from '../../../lib/session/state/params.js';
import type { NoticeFields } from '../../../lib/protocol/decode.js';
import type { PreparedStatements } from '../../../lib/session/prepared/prepared-statements.js';
import { bind, closeStatement, execute, parse, queryMsg, syncMsg } from '../../helpers/wire.js';

/** A server connection that records writes (and the socket flushes they make) and lets the test finish Sluice's own query. */
class FakeConn {
  writes: Buffer[] = [];
  /** The buffers written, as given (not copied). */
  given: Buffer[] = [];
  /** What reached the socket, flush by flush: a write outside cork is one, the writes of a cork leave as one. */
  flushes: Buffer[] = [];
  private corks = 0;
  private pending: Buffer[] = [];
  internal: string[] = [];
  closed = false;
  syncProven = false;
  internalWarning: NoticeFields | null = null;
  values = new Map<string, string>([['DateStyle', 'ISO, MDY']]);
  applied = new Map<string, string>();
  lastClient: object | null = null;
  private done: ((err: string | null) => void) | null = null;
  write(b: Buffer): void {
    this.writes.push(Buffer.from(b));
    this.given.push(b);
    if (this.corks > 0) this.pending.push(Buffer.from(b));
    else this.flushes.push(Buffer.from(b));
  }
  cork(): void {
    this.corks++;
  }
  uncork(): void {
    if (--this.corks > 0 || this.pending.length === 0) return;
    this.flushes.push(Buffer.concat(this.pending));
    this.pending = [];
  }
  /** The round trip: the real one writes its Query alone; the fake only records it. */
  runInternal(sql: string, done: (err: string | null) => void): void {
    this.internal.push(sql);
    this.done = done;
  }
  ownQuery(sql: string, done: (err: string | null) => void): Buffer {
    this.internal.push(sql);
    this.done = done;
    return queryMsg(sql);
  }
  close(reason: string): void {
    this.closed = true;
    this.closeReason = reason;
  }
  closeReason = '';
  finish(err: string | null): void {
    const d = this.done;
    this.done = null;
    d?.(err);
  }
}

/** prepared: a stand-in that writes what it is given, as PreparedStatements.sendAll does for plain frames. */
function setup(startup: Record<string, string> = {}, prepared = false, sameWrite = true) {
  const conn = new FakeConn();
  const log = { sending: 0, failed: [] as string[], linked: true };
  const host: FirstFramesHost = {
    stillLinked: () => log.linked,
    sending: () => void log.sending++,
    syncFailed: (err) => void log.failed.push(err),
    asksSequenceCache: false,
  };
  const params = new ClientParams(null, new Map(Object.entries(startup)));
  const statements = prepared
    ? ({ sendAll: (parts: Buffer[]) => conn.write(Buffer.concat(parts)) } as unknown as PreparedStatements)
    : null;
  const first = new FirstFrames(params, statements, host, sameWrite);
  return { conn, log, first, server: conn as unknown as ServerConnection };
}

const frame = (s: string): Buffer => Buffer.from(s);

t.test("kept frames leave in one write when the server already has the client's parameters", async (t) => {
  const { conn, log, first, server } = setup();
  t.ok(first.empty);
  const backing = frame('PPPPBBBBEEEESSSS');
  first.keep(backing.subarray(0, 4));
  first.keep(backing.subarray(4, 8));
  first.keep(frame('XXXX'));
  t.notOk(first.empty);
  first.link(server);
  t.same(conn.internal, [], 'no parameter sync needed');
  t.equal(conn.writes.length, 1, 'one write');
  t.equal(conn.writes[0].toString(), 'PPPPBBBBXXXX');
  t.equal(log.sending, 1);
  t.ok(first.empty, 'nothing kept after sending');
});

t.test('ranges of one chunk that continue each other leave as that chunk, uncopied; others keep their order', async (t) => {
  const { conn, first, server } = setup();
  const chunk = frame('PPPPBBBBEEEESSSS');
  first.keep(chunk, 0, 4);
  first.keep(chunk, 4, 12);
  t.notOk(first.empty, 'a range not yet cut out still counts as kept');
  first.keep(chunk, 12, 16);
  first.link(server);
  t.equal(conn.given.length, 1);
  t.equal(conn.given[0], chunk, 'the chunk itself, no view or copy');

  const other = frame('QQQQ');
  first.keep(chunk, 0, 4);
  first.keep(chunk, 8, 12); // a message in between was not kept
  first.keep(other, 0, 2);
  first.keep(other, 2, 4);
  first.link(server);
  t.equal(conn.writes[1]!.toString(), 'PPPPEEEEQQQQ');
  first.keep(chunk, 0, 4);
  first.clear();
  t.ok(first.empty, 'clear drops an uncut range too');
});

t.test('on a connection whose sync is not yet proven, the frames wait for it; its success proves the connection', async (t) => {
  const { conn, log, first, server } = setup({ DateStyle: 'German, DMY' });
  first.keep(frame('Q1'));
  first.link(server);
  t.equal(conn.internal.length, 1, 'a sync query runs');
  t.match(conn.internal[0], /datestyle/i);
  t.ok(first.syncing);
  t.equal(conn.writes.length, 0, 'frames wait for the sync');
  first.keep(frame('Q2'));
  conn.values.set('DateStyle', 'German, DMY'); // the server's ParameterStatus during the sync
  conn.finish(null);
  t.notOk(first.syncing);
  t.ok(conn.syncProven, 'proven: later syncs go in the same write as the frames');
  t.equal(conn.writes.length, 1);
  t.equal(conn.writes[0].toString(), 'Q1Q2');
  first.keep(frame('Q3'));
  first.link(server);
  t.equal(conn.internal.length, 1, 'the next link of the same server needs no sync');
  t.equal(conn.writes[1].toString(), 'Q3');
  t.equal(log.failed.length, 0);
});

t.test(
  'a failed sync is reported, and its connection closed with the frames unsent (kept for another); an unlinked session sends nothing',
  async (t) => {
    const a = setup({ DateStyle: 'German, DMY' });
    a.first.keep(frame('Q1'));
    a.first.link(a.server);
    t.match(
      a.conn.internal[0],
      /^SET LOCAL statement_timeout = 0; DO E'BEGIN PERFORM pg_catalog.set_config/,
      "untimed: a client's statement_timeout cannot cut it",
    );
    a.conn.finish('22023: invalid value');
    t.same(a.log.failed, ['22023: invalid value']);
    t.equal(a.conn.writes.length, 0, 'nothing went to a connection with the wrong settings');
    t.ok(a.conn.closed, 'it is closed');
    t.match(a.conn.closeReason, /could not apply session parameters: 22023: invalid value/);
    t.same(a.first.takeFailure(), { sqlstate: '22023', message: 'invalid value' }, 'why, for the client if no other connection can help');
    t.ok(a.first.resend(), 'the frames can go to another connection');

    const b = setup({ DateStyle: 'German, DMY' });
    b.first.keep(frame('Q1'));
    b.first.link(b.server);
    b.log.linked = false;
    b.conn.finish(null);
    t.equal(b.conn.writes.length, 0, 'the session left while the sync ran');
    b.first.clear();
    t.ok(b.first.empty);
  },
);

t.test('a server that died unanswered: what it was sent since link is kept again, in order', async (t) => {
  const { conn, first, server } = setup();
  first.keep(frame('PPPP'));
  first.link(server);
  first.alsoSent(frame('BBBBEEEE'), 0, 4);
  first.alsoSent(frame('SSSS'));
  first.keep(frame('QQQQ')); // arrived after the server was lost
  t.ok(first.resend(), 'there is something to send again');
  const next = new FakeConn();
  first.link(next as unknown as ServerConnection);
  t.equal(next.writes.map(String).join(''), 'PPPPBBBBSSSSQQQQ', 'the same frames, then the later ones');
  t.equal(conn.writes.length, 1);
  t.ok(first.resend(), 'still kept for the second server until it answers (the session allows one retry)');
});

t.test('nothing is sent again once the server answered or the opening grew too large', async (t) => {
  const { first, server } = setup();
  first.keep(frame('PPPP'));
  first.link(server);
  first.forget();
  t.notOk(first.resend(), 'answered: forgotten');
  t.ok(first.empty);

  const big = setup();
  big.first.keep(frame('PPPP'));
  big.first.link(big.server);
  big.first.alsoSent(Buffer.alloc(70 * 1024));
  t.notOk(big.first.resend(), 'over the bound: not kept');
});

t.test('a server lost during the parameter sync: the frames were never sent and stay kept', async (t) => {
  const { conn, log, first, server } = setup({ DateStyle: 'German, DMY' });
  first.keep(frame('PPPP'));
  first.link(server);
  t.equal(conn.internal.length, 1, 'the sync runs first');
  log.linked = false;
  conn.finish('server closed the connection');
  t.equal(conn.writes.length, 0, 'nothing went to the dead server');
  t.ok(first.resend());
  t.notOk(first.empty, 'the frames wait for the next server');
});

/** The type letters of the messages in buf. */
function types(buf: Buffer): string {
  let out = '';
  for (let at = 0; at + 5 <= buf.length; at += 1 + buf.readInt32BE(at + 1)) out += String.fromCharCode(buf[at]);
  return out;
}

const unnamedBatch = (): Buffer => Buffer.concat([parse('select 1'), bind(), execute(), syncMsg()]);

t.test('on a proven connection the sync and the frames leave in one socket write, the sync first', async (t) => {
  const { conn, log, first, server } = setup({ DateStyle: 'German, DMY' });
  conn.syncProven = true;
  first.keep(unnamedBatch());
  first.keep(queryMsg('select 2'));
  first.link(server);
  t.equal(conn.flushes.length, 1, 'one write');
  t.equal(types(conn.flushes[0]), 'QPBESQ', "Sluice's Query, then the client's frames as they came");
  t.match(
    conn.flushes[0].toString('utf8', 5),
    /^SET LOCAL statement_timeout = 0; DO E'BEGIN PERFORM pg_catalog\.set_config\(E''datestyle''/,
  );
  t.ok(conn.flushes[0].subarray(conn.flushes[0].length - queryMsg('select 2').length).equals(queryMsg('select 2')));
  t.notOk(first.syncing, 'nothing waits');
  t.ok(first.inFlight, "the sync's answer is still to come");
  t.equal(log.sending, 1);
  conn.values.set('DateStyle', 'German, DMY');
  conn.finish(null);
  t.notOk(first.inFlight);
  t.equal(conn.flushes.length, 1, 'nothing is sent again after the answer');
  t.equal(first.takeFailure(), null);
});

t.test('with prepared statements tracked: the same write, unless a frame names a prepared statement', async (t) => {
  const plain = setup({ DateStyle: 'German, DMY' }, true);
  plain.conn.syncProven = true;
  plain.first.keep(unnamedBatch());
  plain.first.link(plain.server);
  t.equal(plain.conn.flushes.length, 1);
  t.equal(types(plain.conn.flushes[0]), 'QPBES', 'through PreparedStatements, behind the sync, in one write');

  for (const [what, frames] of [
    ['a named Parse', Buffer.concat([parse('select 1', 's1'), bind([], { statement: 's1' }), execute(), syncMsg()])],
    ['a Bind of a named statement', Buffer.concat([bind([], { statement: 's1' }), execute(), syncMsg()])],
    ['a Close of a named statement', Buffer.concat([closeStatement('s1'), syncMsg()])],
  ] as const) {
    const named = setup({ DateStyle: 'German, DMY' }, true);
    named.conn.syncProven = true;
    named.first.keep(frames);
    named.first.link(named.server);
    t.equal(named.conn.flushes.length, 0, `${what}: the frames wait for the sync's answer`);
    t.ok(named.first.syncing);
    named.conn.finish('22023: invalid value');
    t.ok(named.first.resend(), `${what}: unsent, so they can go to another connection`);
  }
});

t.test("a failed sync in the same write: its backend ended, the frames go again, and the client's reason is kept once", async (t) => {
  const { conn, log, first, server } = setup({ DateStyle: 'German, DMY' });
  conn.syncProven = true;
  first.keep(queryMsg('insert into t values (1)'));
  first.link(server);
  // The DO block's handler: a WARNING with Postgres' reason, then its own backend's FATAL, then the socket closes.
  conn.internalWarning = { severity: 'WARNING', code: '22023', message: 'invalid value for parameter "DateStyle": "German"' };
  conn.closed = true;
  conn.finish('server closed the connection');
  t.same(log.failed, ['22023: invalid value for parameter "DateStyle": "German"']);
  t.same(first.takeFailure(), { sqlstate: '22023', message: 'invalid value for parameter "DateStyle": "German"' });
  t.equal(first.takeFailure(), null, 'told once');
  t.ok(first.resend(), 'the frames, never read by the ended backend, go to another connection');
  const next = new FakeConn();
  next.syncProven = true;
  first.link(next as unknown as ServerConnection);
  t.equal(types(next.flushes[0]), 'QQ', 'the sync again, then the same frames');
  const again = queryMsg('insert into t values (1)');
  t.ok(next.flushes[0].subarray(next.flushes[0].length - again.length).equals(again));

  const outside = setup({ DateStyle: 'German, DMY' });
  outside.conn.syncProven = true;
  outside.first.keep(queryMsg('select 1'));
  outside.first.link(outside.server);
  outside.conn.closed = true;
  outside.conn.finish('server closed the connection');
  t.equal(outside.first.takeFailure(), null, 'a backend ended from outside (no WARNING of the sync) is a lost connection');
});

t.test('session mode: the sync is always a round trip of plain SELECTs, ahead of which nothing goes', async (t) => {
  const { conn, first, server } = setup({ DateStyle: 'German, DMY' }, false, false);
  conn.syncProven = true;
  first.keep(queryMsg('select 1'));
  first.link(server);
  t.equal(conn.flushes.length, 0, 'the frames wait');
  t.match(conn.internal[0], /^SET LOCAL statement_timeout = 0; SELECT pg_catalog\.set_config/);
  conn.finish(null);
  t.equal(conn.flushes.length, 1);
});
