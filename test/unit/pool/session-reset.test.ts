// Tests for what session mode checks after server_reset_query: the SQL parses, random() gets a fresh seed, and which replies close the connection.
import { serialize } from '../../../lib/protocol/pg-protocol.js';
import t from 'tap';
import { loadModule, parseSync } from 'libpg-query';
import { countLibrarySettings, finishReset } from '../../../lib/pool/session-reset.js';
import type { ServerConnection, ServerLink } from '../../../lib/pool/server-connection.js';
import * as encode from '../../../lib/protocol/encode.js';
import { TxStatus } from '../../../lib/protocol/codes.js';

await loadModule();

/** Just enough of a ServerConnection: the link slot, what was written, and the login's library count. */
function fakeConn(librarySettings: number | null) {
  const written: string[] = [];
  const conn = {
    link: null as ServerLink | null,
    librarySettings,
    attach(l: ServerLink) {
      this.link = l;
    },
    detach() {
      this.link = null;
    },
    writeOwnQuery(sql: string) {
      this.write(serialize.query(sql));
    },
    write(b: Buffer) {
      written.push(b.toString('utf8', 5, b.length - 1));
    },
  };
  return { conn, written };
}

function answer(conn: { link: ServerLink | null }, row: (string | null)[] | null, error?: string): void {
  const link = conn.link as ServerLink;
  const parts = row ? [encode.dataRow(row)] : [encode.errorResponse({ severity: 'ERROR', sqlstate: 'XX000', message: error ?? 'boom' })];
  for (const b of parts) link.serverData(b, 0, b.length);
  link.serverReady(1, TxStatus.Idle);
}

function finish(librarySettings: number | null, row: (string | null)[] | null) {
  const { conn, written } = fakeConn(librarySettings);
  let leftover: string | null | undefined;
  finishReset(conn as unknown as ServerConnection, (l) => (leftover = l));
  answer(conn, row);
  return { leftover, sql: written[0] };
}

t.test('the SQL parses, and each reset gets a different seed', async (t) => {
  const a = finish(3, ['', '3', 'f']).sql;
  const b = finish(3, ['', '3', 'f']).sql;
  t.equal(parseSync(a).stmts?.length, 1, 'one statement');
  const seed = (sql: string) => Number(/setseed\((-?\d\.\d+)\)/.exec(sql)?.[1]);
  t.ok(Math.abs(seed(a)) <= 1 && Math.abs(seed(b)) <= 1, 'seeds are within [-1, 1]');
  t.not(seed(a), seed(b), 'no two resets share a seed');
  const { conn, written } = fakeConn(null);
  countLibrarySettings(conn as unknown as ServerConnection, () => undefined);
  t.equal(parseSync(written[0]).stmts?.length, 1, 'the login count parses too');
});

t.test('which replies hand the connection on', async (t) => {
  t.equal(finish(3, ['', '3', 'f']).leftover, null, 'as many library settings as at login, no temp schema');
  t.match(finish(3, ['', '5', 'f']).leftover, /loaded a library/, 'more library settings than at login');
  t.equal(finish(null, ['', '5', 'f']).leftover, null, 'not counted at login: nothing to compare');
  t.match(finish(3, ['', '3', 't']).leftover, /temp schema/, 'a temp schema');
  t.match(finish(3, null).leftover, /failed: XX000/, 'an error');
});

t.test('the login count reads the number, or says why not', async (t) => {
  const ok = fakeConn(null);
  let got: [number | null, string | null] | undefined;
  countLibrarySettings(ok.conn as unknown as ServerConnection, (n, e) => (got = [n, e]));
  answer(ok.conn, ['4']);
  t.same(got, [4, null]);
  const bad = fakeConn(null);
  countLibrarySettings(bad.conn as unknown as ServerConnection, (n, e) => (got = [n, e]));
  answer(bad.conn, null);
  t.match(got, [null, /XX000/]);
});
