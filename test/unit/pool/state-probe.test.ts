// Tests for the session-state probe: its SQL (read back by the PostgreSQL grammar) and how it reads the reply and restores the link.
import t from 'tap';
import { loadModule, parseSync } from 'libpg-query';
import { listeningChannels, probeQuery, probeSessionState } from '../../../lib/pool/state-probe.js';
import type { ServerConnection, ServerLink } from '../../../lib/pool/server-connection.js';
import * as encode from '../../../lib/protocol/encode.js';
import { TxStatus } from '../../../lib/protocol/codes.js';

await loadModule();

t.test('the probe SQL parses, and quotes what it is given', async (t) => {
  const sql = probeQuery({ carried: ['search_path', "o'dd"], loginUser: "al'ice", custom: ['app.tenant'] });
  t.equal(parseSync(sql).stmts?.length, 1, 'one statement');
  t.match(sql, /'o''dd'/);
  t.match(sql, /session_user::text <> 'al''ice'/);
  t.match(sql, /unnest\(ARRAY\['app\.tenant'\]::text\[\]\)/);
  t.equal(parseSync(probeQuery({ carried: [], loginUser: 'u', custom: [] })).stmts?.length, 1, 'empty lists are valid too');
});

/** Just enough of a ServerConnection: the link slot and what was written. */
function fakeConn(previous: ServerLink | null) {
  const written: Buffer[] = [];
  const conn = {
    link: previous,
    attach(l: ServerLink) {
      this.link = l;
    },
    detach() {
      this.link = null;
    },
    write(b: Buffer) {
      written.push(b);
    },
  };
  return { conn, written };
}

const session: ServerLink = {
  serverData: () => undefined, batch: () => undefined, serverReady: () => undefined, serverParameter: () => undefined,
  serverCopyIn: () => undefined, serverBetweenMessages: () => undefined, serverFault: () => undefined, serverClosed: () => void (closedSeen = true),
};
let closedSeen = false;

function run(reply: Buffer[]): Promise<{ remaining: string[] | null; error: string | null; linkAfter: unknown }> {
  const { conn, written } = fakeConn(session);
  return new Promise((resolve) => {
    probeSessionState(conn as unknown as ServerConnection, { carried: [], loginUser: 'u', custom: [] }, (remaining, error) =>
      resolve({ remaining, error, linkAfter: conn.link }));
    t.equal(written[0][0], 0x51, 'a simple Query went out');
    const link = conn.link as ServerLink;
    for (const b of reply) link.serverData(b, 0, b.length);
    link.serverReady(1, TxStatus.Idle);
  });
}

t.test('a clean reply means nothing remains; the session is linked again', async (t) => {
  const r = await run([encode.rowDescription([]), encode.dataRow(['0', '0', '0', '0', '0', null]), encode.commandComplete('SELECT 1')]);
  t.same(r.remaining, []);
  t.equal(r.error, null);
  t.equal(r.linkAfter, session);
});

t.test('each kind of remaining state is named', async (t) => {
  const r = await run([encode.dataRow(['2', '1', '3', '1', '1', 'role, work_mem'])]);
  t.same(r.remaining, ['LISTEN (2)', 'advisory locks (1)', 'temp objects (3)', 'holdable cursors (1)', 'SQL prepared statements (1)', 'SET role, work_mem']);
});

t.test('an error reply is reported as an error, not as clean', async (t) => {
  const r = await run([encode.errorResponse({ severity: 'ERROR', sqlstate: '42501', message: 'permission denied' })]);
  t.equal(r.remaining, null);
  t.equal(r.error, '42501: permission denied');
});

t.test('a connection that dies during the probe tells the previous link, then the caller', async (t) => {
  const { conn } = fakeConn(session);
  closedSeen = false;
  const done = new Promise<string | null>((resolve) =>
    probeSessionState(conn as unknown as ServerConnection, { carried: [], loginUser: 'u', custom: [] }, (_r, e) => resolve(e)));
  const link = conn.link as ServerLink;
  conn.link = null; // as ServerConnection does before calling serverClosed
  link.serverClosed('server closed the connection', false, false);
  t.equal(await done, 'server closed the connection');
  t.ok(closedSeen, 'the session heard of it');
});

t.test('listeningChannels reads one channel per row, relinks the session, and hands it the notifications that came meanwhile', async (t) => {
  const seen: number[] = [];
  const { conn, written } = fakeConn({ ...session, serverData: (b, s) => void seen.push(b[s]) });
  const got = new Promise<{ channels: string[] | null; error: string | null }>((resolve) =>
    listeningChannels(conn as unknown as ServerConnection, (channels, error) => resolve({ channels, error })));
  t.match(written[0].toString('utf8'), /pg_listening_channels\(\)/);
  const link = conn.link as ServerLink;
  const note = Buffer.concat([Buffer.from('A'), Buffer.from([0, 0, 0, 11, 0, 0, 0, 1]), Buffer.from('a\0\0')]);
  for (const b of [encode.rowDescription([]), encode.dataRow(['a']), note, encode.dataRow(['B c']), encode.commandComplete('SELECT 2')]) link.serverData(b, 0, b.length);
  link.serverReady(1, TxStatus.Idle);
  t.same(await got, { channels: ['a', 'B c'], error: null });
  t.same(seen, [0x41], 'the NotificationResponse reached the session');
  t.not(conn.link, null);
});
