// Checks frames kept before a link leave in one write, after the client's session parameters when the server's differ.
import t from 'tap';
import type { ServerConnection } from '../../../lib/pool/server-connection.js';
import { FirstFrames, type FirstFramesHost } from '../../../lib/session/first-frames.js';
import { ClientParams } from '../../../lib/session/state/params.js';

/** A server connection that records writes and lets the test finish an internal query. */
class FakeConn {
  writes: Buffer[] = [];
  /** The buffers written, as given (not copied). */
  given: Buffer[] = [];
  internal: string[] = [];
  closed = false;
  values = new Map<string, string>([['DateStyle', 'ISO, MDY']]);
  applied = new Map<string, string>();
  private done: ((err: string | null) => void) | null = null;
  write(b: Buffer): void {
    this.writes.push(Buffer.from(b));
    this.given.push(b);
  }
  runInternal(sql: string, done: (err: string | null) => void): void {
    this.internal.push(sql);
    this.done = done;
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

function setup(startup: Record<string, string> = {}) {
  const conn = new FakeConn();
  const log = { sending: 0, failed: [] as string[], linked: true };
  const host: FirstFramesHost = {
    stillLinked: () => log.linked,
    sending: () => void log.sending++,
    syncFailed: (err) => void log.failed.push(err),
    asksSequenceCache: false,
  };
  const params = new ClientParams(null, new Map(Object.entries(startup)));
  const first = new FirstFrames(params, null, host);
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

t.test('differing parameters are applied first; frames kept meanwhile follow in the same write', async (t) => {
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
      /^SET LOCAL statement_timeout = 0; SELECT pg_catalog.set_config/,
      "untimed: a client's statement_timeout cannot cut it",
    );
    a.conn.finish('invalid value');
    t.same(a.log.failed, ['invalid value']);
    t.equal(a.conn.writes.length, 0, 'nothing went to a connection with the wrong settings');
    t.ok(a.conn.closed, 'it is closed');
    t.match(a.conn.closeReason, /could not apply session parameters: invalid value/);
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
