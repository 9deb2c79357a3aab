// Checks frames kept before a link leave in one write, after the client's session parameters when the server's differ.
import t from 'tap';
import type { ServerConnection } from '../../../lib/pool/server-connection.js';
import { FirstFrames, type FirstFramesHost } from '../../../lib/session/first-frames.js';
import { ClientParams } from '../../../lib/session/params.js';

/** A server connection that records writes and lets the test finish an internal query. */
class FakeConn {
  writes: Buffer[] = [];
  internal: string[] = [];
  closed = false;
  values = new Map<string, string>([['DateStyle', 'ISO, MDY']]);
  applied = new Map<string, string>();
  private done: ((err: string | null) => void) | null = null;
  write(b: Buffer): void {
    this.writes.push(Buffer.from(b));
  }
  runInternal(sql: string, done: (err: string | null) => void): void {
    this.internal.push(sql);
    this.done = done;
  }
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
  };
  const params = new ClientParams(null, new Map(Object.entries(startup)));
  const first = new FirstFrames(params, null, host);
  return { conn, log, first, server: conn as unknown as ServerConnection };
}

const frame = (s: string): Buffer => Buffer.from(s);

t.test('kept frames leave in one write when the server already has the client\'s parameters', async (t) => {
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

t.test('a failed sync is reported and the frames still go; an unlinked session sends nothing', async (t) => {
  const a = setup({ DateStyle: 'German, DMY' });
  a.first.keep(frame('Q1'));
  a.first.link(a.server);
  a.conn.finish('invalid value');
  t.same(a.log.failed, ['invalid value']);
  t.equal(a.conn.writes.length, 1);

  const b = setup({ DateStyle: 'German, DMY' });
  b.first.keep(frame('Q1'));
  b.first.link(b.server);
  b.log.linked = false;
  b.conn.finish(null);
  t.equal(b.conn.writes.length, 0, 'the session left while the sync ran');
  b.first.clear();
  t.ok(b.first.empty);
});
