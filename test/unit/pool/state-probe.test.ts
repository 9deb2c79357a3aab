// Tests for the session-state probe: its SQL (read back by the PostgreSQL grammar) and how it reads the reply and restores the link.
import { serialize } from '../../../lib/protocol/pg-protocol.js';
import t from 'tap';
import { loadModule, parseSync } from 'libpg-query';
import { checkSettings, listeningChannels, probeQuery, probeSessionState, sessionSettings } from '../../../lib/pool/state-probe.js';
import type { ServerConnection, ServerLink } from '../../../lib/pool/server-connection.js';
import * as encode from '../../../lib/protocol/encode.js';
import { TxStatus } from '../../../lib/protocol/codes.js';

await loadModule();

t.test('the probe SQL parses, and quotes what it is given', async (t) => {
  const sql = probeQuery({ loginUser: "al'ice\\" });
  t.equal(parseSync(sql).stmts?.length, 1, 'one statement');
  t.match(sql, /session_user::text <> E'al''ice\\\\'/);
  t.notMatch(sql, /pg_settings/, 'settings other than role and session_authorization follow their client: not state');
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
    writeOwnQuery(sql: string) {
      this.write(serialize.query(sql));
    },
    write(b: Buffer) {
      written.push(b);
    },
  };
  return { conn, written };
}

const session: ServerLink = {
  serverData: () => undefined,
  batch: () => undefined,
  serverReady: () => undefined,
  serverParameter: () => undefined,
  serverCopyIn: () => undefined,
  serverBetweenMessages: () => undefined,
  serverFault: () => undefined,
  serverClosed: () => void (closedSeen = true),
};
let closedSeen = false;

function run(reply: Buffer[]): Promise<{ remaining: string[] | null; error: string | null; linkAfter: unknown }> {
  const { conn, written } = fakeConn(session);
  return new Promise((resolve) => {
    probeSessionState(conn as unknown as ServerConnection, { loginUser: 'u' }, (remaining, error) =>
      resolve({ remaining, error, linkAfter: conn.link }),
    );
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
  t.same(r.remaining, [
    'LISTEN (2)',
    'advisory locks (1)',
    'temp objects (3)',
    'holdable cursors (1)',
    'SQL prepared statements (1)',
    'SET role, work_mem',
  ]);
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
    probeSessionState(conn as unknown as ServerConnection, { loginUser: 'u' }, (_r, e) => resolve(e)),
  );
  const link = conn.link as ServerLink;
  conn.link = null; // as ServerConnection does before calling serverClosed
  link.serverClosed('server closed the connection', false, false);
  t.equal(await done, 'server closed the connection');
  t.ok(closedSeen, 'the session heard of it');
});

t.test(
  'listeningChannels reads one channel per row, relinks the session, and hands it the notifications that came meanwhile',
  async (t) => {
    const seen: number[] = [];
    const { conn, written } = fakeConn({ ...session, serverData: (b, s) => void seen.push(b[s]) });
    const got = new Promise<{ channels: string[] | null; error: string | null }>((resolve) =>
      listeningChannels(conn as unknown as ServerConnection, (channels, error) => resolve({ channels, error })),
    );
    t.match(written[0].toString('utf8'), /pg_listening_channels\(\)/);
    const link = conn.link as ServerLink;
    const note = Buffer.concat([Buffer.from('A'), Buffer.from([0, 0, 0, 11, 0, 0, 0, 1]), Buffer.from('a\0\0')]);
    for (const b of [encode.rowDescription([]), encode.dataRow(['a']), note, encode.dataRow(['B c']), encode.commandComplete('SELECT 2')])
      link.serverData(b, 0, b.length);
    link.serverReady(1, TxStatus.Idle);
    t.same(await got, { channels: ['a', 'B c'], error: null });
    t.same(seen, [0x41], 'the NotificationResponse reached the session');
    t.not(conn.link, null);
  },
);

/** Runs one of the probe's questions against a scripted reply; resolves with what it called back. */
function answer<T>(ask: (conn: ServerConnection, done: (v: T) => void) => void, reply: Buffer[]): Promise<{ value: T; sql: string }> {
  const { conn, written } = fakeConn(null);
  return new Promise((resolve) => {
    ask(conn as unknown as ServerConnection, (value) => resolve({ value, sql: written[0].toString('utf8', 5, written[0].length - 1) }));
    const link = conn.link as ServerLink;
    for (const b of reply) link.serverData(b, 0, b.length);
    link.serverReady(1, TxStatus.Idle);
  });
}

t.test('sessionSettings reads name/value rows; an unset custom setting (null or empty) is left out', async (t) => {
  const { value, sql } = await answer<Map<string, string> | null>(
    (c, done) => sessionSettings(c, ['myapp.x', "odd'.y"], ['my_fn'], (v) => done(v)),
    [
      encode.dataRow(['0']),
      encode.dataRow(['statement_timeout', '0']),
      encode.dataRow(['work_mem', '8MB']),
      encode.dataRow(['myapp.x', 'v']),
      encode.dataRow(["odd'.y", '']),
      encode.dataRow(['other.z', null]),
      encode.dataRow([null, '0']),
    ],
  );
  t.same(
    value,
    new Map([
      ['work_mem', '8MB'],
      ['myapp.x', 'v'],
    ]),
    "statement_timeout at its default is not the client's",
  );
  t.equal(parseSync(sql).stmts?.length, 3, "the client's statement_timeout, SET LOCAL statement_timeout = 0, the read-back");
  t.match(sql, /source = 'session'/);
  t.match(sql, /E'odd''\.y'/, 'custom names are quoted');
  t.match(
    sql,
    /regexp_matches\(p\.prosrc, .*WHERE p\.proname = ANY \(ARRAY\[E'my_fn'\]::text\[\]\)/s,
    "the called functions' source is searched for custom settings",
  );
  const timed = await answer<Map<string, string> | null>(
    (c, done) => sessionSettings(c, [], [], (v) => done(v)),
    [encode.dataRow(['5s']), encode.dataRow(['statement_timeout', '0']), encode.dataRow([null, '0'])],
  );
  t.same(timed.value, new Map([['statement_timeout', '5s']]), "the client's own statement_timeout, as it was before Sluice's SET LOCAL");
});

t.test("checkSettings runs set_config(…, true) for each, and gives back Postgres' error code and message", async (t) => {
  const ok = await answer((c, done) => checkSettings(c, new Map([['statement_timeout', '1234']]), done), [encode.dataRow(['1234ms'])]);
  t.equal(ok.value, null);
  t.match(ok.sql, /set_config\(E'statement_timeout', E'1234', true\)/);
  const bad = await answer(
    (c, done) => checkSettings(c, new Map([['work_mem', 'lots']]), done),
    [encode.errorResponse({ severity: 'ERROR', sqlstate: '22023', message: 'invalid value for parameter "work_mem": "lots"' })],
  );
  t.same(bad.value, { sqlstate: '22023', message: 'invalid value for parameter "work_mem": "lots"' });
});

t.test('a query of its own that Postgres cancels (57014) is asked again, three times at most; other errors are not', async (t) => {
  const answer = (conn: { link: ServerLink | null }, error: string | null) => {
    const link = conn.link as ServerLink;
    if (error) {
      const b = encode.errorResponse({ severity: 'ERROR', sqlstate: error, message: 'canceling statement due to statement timeout' });
      link.serverData(b, 0, b.length);
    } else {
      const b = encode.dataRow(['x']);
      link.serverData(b, 0, b.length);
    }
    link.serverReady(1, TxStatus.Idle);
  };
  for (const [errors, expectWrites, expectError] of [
    [['57014'], 2, null],
    [['57014', '57014'], 3, null],
    [['57014', '57014', '57014'], 3, '57014'],
    [['42P01'], 1, '42P01'],
  ] as const) {
    const { conn, written } = fakeConn(session);
    let result: { rows: unknown; error: string | null } | null = null;
    checkSettings(
      conn as unknown as ServerConnection,
      new Map([['work_mem', '1MB']]),
      (refusal) => (result = { rows: null, error: refusal?.sqlstate ?? null }),
    );
    for (const e of errors) if (result === null) answer(conn, e);
    if (result === null) answer(conn, null);
    t.equal(written.length, expectWrites, `${errors.join(', ')}: sent ${expectWrites} times`);
    t.equal(result!.error, expectError, `${errors.join(', ')}: ends with ${expectError ?? 'an answer'}`);
    t.equal(conn.link, session, 'the session is linked again');
  }
});
