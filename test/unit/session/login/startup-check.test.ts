// Tests for the startup settings check: what needs checking, the per-pool cache, one check for clients that wait on the same settings, and where it runs.
import { serialize } from '../../../../lib/protocol/pg-protocol.js';
import t from 'tap';
import { StartupChecker } from '../../../../lib/session/login/startup-check.js';
import type { Pool } from '../../../../lib/pool/pool.js';
import type { ServerLink } from '../../../../lib/pool/server-connection.js';
import type { SettingsRefusal } from '../../../../lib/pool/state-probe.js';
import * as encode from '../../../../lib/protocol/encode.js';
import { TxStatus } from '../../../../lib/protocol/codes.js';

/** An idle connection that records the SQL it is sent and answers when told to. */
function fakeConn() {
  const sent: string[] = [];
  const conn = {
    link: null as ServerLink | null,
    closed: false,
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
      sent.push(b.toString('utf8', 5, b.length - 1));
    },
    answer(error?: { sqlstate: string; message: string }) {
      const link = this.link as ServerLink;
      const reply = error ? encode.errorResponse({ severity: 'ERROR', ...error }) : encode.dataRow(['x']);
      link.serverData(reply, 0, reply.length);
      link.serverReady(1, TxStatus.Idle);
    },
  };
  return { conn, sent };
}

function fakePool(idle: ReturnType<typeof fakeConn>['conn'] | null) {
  const released: unknown[] = [];
  const pool = {
    params: new Map([
      ['client_encoding', 'UTF8'],
      ['DateStyle', 'ISO, MDY'],
    ]),
    settings: { target: { host: 'h' } },
    takeIdle: () => {
      const c = idle;
      idle = null;
      return c;
    },
    release: (c: unknown) => {
      released.push(c);
      idle = c as typeof idle;
    },
  };
  return { pool: pool as unknown as Pool, released };
}

const noLogin = () => Promise.reject(new Error('no login expected'));

t.test('values the pool already has, and application_name, need no check', async (t) => {
  const { pool } = fakePool(null);
  const checker = new StartupChecker(() => 0, noLogin);
  let result: SettingsRefusal | null | undefined;
  checker.check(
    pool,
    new Map([
      ['client_encoding', 'UTF8'],
      ['datestyle', 'ISO, MDY'],
      ['application_name', 'anything'],
    ]),
    (r) => (result = r),
  );
  t.equal(result, null, 'answered at once');
});

t.test('new settings are tried on an idle connection, which goes back; accepted ones are remembered per pool', async (t) => {
  const { conn, sent } = fakeConn();
  const { pool, released } = fakePool(conn);
  const checker = new StartupChecker(() => 0, noLogin);
  const results: Array<SettingsRefusal | null> = [];
  const settings = new Map([
    ['statement_timeout', '1234'],
    ['client_encoding', 'UTF8'],
  ]);
  checker.check(pool, settings, (r) => results.push(r));
  checker.check(pool, settings, (r) => results.push(r));
  t.equal(sent.length, 1, 'one check for both clients');
  t.match(sent[0], /set_config\(E'statement_timeout', E'1234', true\)/);
  t.notMatch(sent[0], /client_encoding/);
  conn.answer();
  t.same(results, [null, null]);
  t.same(released, [conn], 'the connection went back to the pool');
  checker.check(pool, settings, (r) => results.push(r));
  t.same(results, [null, null, null], 'the third client is answered from the cache');
  t.equal(sent.length, 1);
});

t.test("a refusal carries Postgres' SQLSTATE and message, and is not remembered", async (t) => {
  const { conn, sent } = fakeConn();
  const { pool } = fakePool(conn);
  const checker = new StartupChecker(() => 0, noLogin);
  const results: Array<SettingsRefusal | null> = [];
  checker.check(pool, new Map([['work_mem', 'lots']]), (r) => results.push(r));
  conn.answer({ sqlstate: '22023', message: 'invalid value for parameter "work_mem": "lots"' });
  t.same(results, [{ sqlstate: '22023', message: 'invalid value for parameter "work_mem": "lots"' }]);
  checker.check(pool, new Map([['work_mem', 'lots']]), (r) => results.push(r));
  t.equal(sent.length, 2, 'checked again');
});

t.test('no idle connection: a login of its own; a failed login is no Postgres refusal', async (t) => {
  const { pool } = fakePool(null);
  const checker = new StartupChecker(
    () => 0,
    () => Promise.reject(new Error('connection refused')),
  );
  const result = await new Promise<SettingsRefusal | null>((resolve) => checker.check(pool, new Map([['work_mem', '1MB']]), resolve));
  t.same(result, { sqlstate: null, message: 'connection refused' });
});
