// Tests for the steps after a client's transaction: reading back its session settings, and putting back the startup values a RESET took away.
import { serialize } from '../../../../lib/protocol/pg-protocol.js';
import t from 'tap';
import { readBack, restoreStartup, type SettingsHost } from '../../../../lib/session/state/state-settings.js';
import type { Pool } from '../../../../lib/pool/pool.js';
import type { ServerConnection, ServerLink } from '../../../../lib/pool/server-connection.js';
import * as encode from '../../../../lib/protocol/encode.js';
import { TxStatus } from '../../../../lib/protocol/codes.js';

/** A linked connection that answers the next question with the given rows, or an error. */
function fakeConn() {
  const conn = {
    link: null as ServerLink | null,
    closed: false,
    closeReason: '',
    sent: [] as string[],
    values: new Map([['datestyle', 'ISO, MDY']]),
    applied: new Map([['stale_setting', 'x']]),
    paramsEpoch: 0,
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
      this.sent.push(b.toString('utf8', 5, b.length - 1));
    },
    close(reason: string) {
      this.closed = true;
      this.closeReason = reason;
    },
    answer(rows: Array<Array<string | null>>, error?: string) {
      const link = this.link as ServerLink;
      const frames = error
        ? [encode.errorResponse({ severity: 'ERROR', sqlstate: '57014', message: error })]
        : rows.map((r) => encode.dataRow(r));
      for (const f of frames) link.serverData(f, 0, f.length);
      link.serverReady(1, TxStatus.Idle);
    },
  };
  return conn;
}

function fakeHost(startup: Record<string, string> = {}) {
  const told: string[] = [];
  const readBacks: Array<Map<string, string>> = [];
  const host: SettingsHost = {
    pool: {
      params: new Map([
        ['DateStyle', 'ISO, MDY'],
        ['TimeZone', 'UTC'],
      ]),
    } as unknown as Pool,
    toClient: (f: Buffer) => void told.push(f.toString('utf8', 5, f.length - 1).replace(/\0/g, '=')),
    customSettings: new Set(['myapp.x']),
    settingsReadBack: (values) => void readBacks.push(new Map(values)),
    startupSettings: new Map(Object.entries(startup)),
  };
  return { host, told, readBacks };
}

t.test("readBack: the values become the client's; the connection knows its unreported ones, and nothing stale", async (t) => {
  const conn = fakeConn();
  const { host, readBacks } = fakeHost();
  let ok: boolean | undefined;
  readBack(conn as unknown as ServerConnection, host, [], (r) => (ok = r));
  t.match(conn.sent[0], /unnest\(ARRAY\[E'myapp\.x'\]::text\[\]\)/, 'custom settings are asked for by name');
  conn.answer([['0'], ['datestyle', 'SQL, DMY'], ['work_mem', '8MB'], ['myapp.x', 'v'], [null, '0']]);
  t.equal(ok, true);
  t.same(readBacks, [
    new Map([
      ['datestyle', 'SQL, DMY'],
      ['work_mem', '8MB'],
      ['myapp.x', 'v'],
    ]),
  ]);
  t.same(
    conn.applied,
    new Map([
      ['work_mem', '8MB'],
      ['myapp.x', 'v'],
    ]),
    'reported settings are tracked through ParameterStatus instead',
  );
  t.equal(conn.paramsEpoch, 1, 'a clean check remembered for this connection no longer holds');
});

t.test('readBack that fails: the connection is closed, its settings unknown', async (t) => {
  const conn = fakeConn();
  const { host, readBacks } = fakeHost();
  let ok: boolean | undefined;
  readBack(conn as unknown as ServerConnection, host, [], (r) => (ok = r));
  // A canceled read-back is asked again (see state-probe's ask): three cancels in a row end it.
  for (let i = 0; i < 3; i++) conn.answer([], 'canceling statement due to user request');
  t.equal(ok, false);
  t.ok(conn.closed);
  t.match(conn.closeReason, /could not read back session settings: 57014/);
  t.same(readBacks, []);
});

t.test(
  'restoreStartup: what it set again is told to the client when reported (as the server spells it), else known as applied',
  async (t) => {
    const conn = fakeConn();
    const { host, told } = fakeHost({ datestyle: 'Postgres, MDY', statement_timeout: '4321' });
    let ok: boolean | undefined;
    restoreStartup(conn as unknown as ServerConnection, host, (r) => (ok = r));
    t.match(conn.sent[0], /VALUES \(E'datestyle', E'Postgres, MDY'\), \(E'statement_timeout', E'4321'\)/);
    conn.answer([
      ['datestyle', 'Postgres, MDY'],
      ['statement_timeout', '4321ms'],
    ]);
    t.equal(ok, true);
    t.same(told, ['DateStyle=Postgres, MDY'], 'a ParameterStatus, as Postgres sends on any change');
    t.equal(conn.applied.get('statement_timeout'), '4321ms');
  },
);
