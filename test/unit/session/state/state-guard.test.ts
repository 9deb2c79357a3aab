// Tests for the per-session state guard with a fake session and hub: verdicts per policy, local answers, LISTEN through the hub, notification queueing.
import t from 'tap';
import { CONSUMED, PASS, StateGuard, type GuardHost } from '../../../../lib/session/state/state-guard.js';
import { StateParser } from '../../../../lib/session/state/session-state.js';
import type { NotifyHub } from '../../../../lib/notify/notify-hub.js';
import type { Pool } from '../../../../lib/pool/pool.js';
import type { ServerConnection } from '../../../../lib/pool/server-connection.js';
import type { SessionStatePolicy } from '../../../../lib/config/types.js';
import { TxStatus } from '../../../../lib/protocol/codes.js';
import { cstr, message } from '../../../helpers/bytes.js';
import { captureLog } from '../../../helpers/log-capture.js';
import { listeningConn } from '../../../helpers/listening-conn.js';

const parser = await StateParser.load();

function setup(
  policy: SessionStatePolicy,
  opts: { mode?: 'session' | 'transaction'; server?: { status: number }; hub?: Partial<NotifyHub> } = {},
) {
  const out: string[] = [];
  const calls: string[] = [];
  const subs = new Map<string, unknown>();
  const captured = captureLog('info');
  const host = {
    ident: { id: 1, user: 'alice', database: 'app' },
    pool: {
      name: 'app/alice',
      settings: { mode: opts.mode ?? 'transaction', resetQuery: 'DISCARD ALL', target: { user: 'alice' } },
    } as unknown as Pool,
    server: (opts.server ?? null) as ServerConnection | null,
    quiet: true as boolean,
    clientStatus: TxStatus.Idle as number,
    toClient: (f: Buffer) =>
      void out.push(
        f[0] === 0x43
          ? `C:${f.toString('utf8', 5, f.length - 1)}`
          : f[0] === 0x45
            ? `E:${f.toString('utf8').match(/C(\w{5})/)?.[1]}`
            : String.fromCharCode(f[0]),
      ),
    ready: (s: number) => void out.push(`Z:${String.fromCharCode(s)}`),
    hold: () => void calls.push('hold'),
    resume: () => void calls.push('resume'),
    skipToSync: () => void calls.push('skipToSync'),
    releaseServer: () => void calls.push('release'),
    customSettings: new Set<string>(),
    startupSettings: new Map<string, string>(),
    useCustomSetting: (name: string) => void calls.push(`custom ${name}`),
    settingsReadBack: (values: ReadonlyMap<string, string>) =>
      void calls.push(`read back ${[...values].map(([k, v]) => `${k}=${v}`).join(' ')}`),
    closeServer: () => void calls.push('close'),
  } satisfies GuardHost;
  const hub = (opts.hub ?? {
    subscribe: (_p: unknown, ch: string, sub: unknown, done: (e: string | null) => void) => (subs.set(ch, sub), done(null)),
    unsubscribe: (_p: string, ch: string) => void subs.delete(ch),
  }) as unknown as NotifyHub;
  const guard = new StateGuard(host, { log: captured.log, hub, parser, policy: () => policy });
  const query = (sql: string) => {
    const m = message('Q', cstr(sql));
    return guard.inspect(0x51, m, 0, m.length);
  };
  const parse = (sql: string, name = '') => {
    const m = message('P', Buffer.concat([cstr(name), cstr(sql), Buffer.alloc(2)]));
    return guard.inspect(0x50, m, 0, m.length);
  };
  return { guard, host, out, calls, subs, query, parse, captured };
}

t.test('session mode and ordinary statements pass untouched', async (t) => {
  t.equal(setup('reject', { mode: 'session' }).query('set work_mem = 1'), PASS);
  const s = setup('reject');
  t.equal(s.query('select * from t where x = 1'), PASS);
  t.equal(s.query('set local work_mem = 1'), PASS);
  t.same(s.out, []);
});

t.test('reject, client waiting for nothing: answered here with 0A000 and ReadyForQuery', async (t) => {
  const s = setup('reject');
  t.equal(s.query('create temp table x (y int)'), CONSUMED);
  t.same(s.out, ['E:0A000', 'Z:I']);
  t.equal(s.parse('select pg_advisory_lock($1)'), CONSUMED);
  t.same(s.calls, ['skipToSync'], 'a refused Parse skips the rest of its batch');
});

t.test('reject behind requests in flight: a replacement the server fails in order', async (t) => {
  const s = setup('reject');
  s.host.quiet = false;
  const q = s.query('set role bob');
  t.ok(Buffer.isBuffer(q) && q[0] === 0x51 && /RAISE EXCEPTION/.test(q.toString()), 'a Query raising the error');
  const p = s.parse('prepare p as select 1', 'stmt');
  t.ok(Buffer.isBuffer(p) && p[0] === 0x50 && p.includes('stmt\0'), 'a Parse under the same name');
  t.same(s.out, []);
});

t.test('reject inside a failed transaction lets Postgres refuse it (25P02)', async (t) => {
  t.equal(setup('reject', { server: { status: TxStatus.Failed } }).query('set role bob'), PASS);
});

t.test('allow passes through and warns once per statement; a setting that follows its client is no state', async (t) => {
  const s = setup('allow');
  t.equal(s.query('set work_mem = 1'), PASS);
  t.equal(s.query('set work_mem = 2'), PASS);
  t.equal(s.query('prepare p as select 1'), PASS);
  t.equal(s.query('prepare p as select 1'), PASS);
  const warnings = s.captured
    .lines()
    .filter((l) => l.level === 40)
    .map((l) => l.statements);
  t.same(warnings, [['PREPARE p']]);
});

t.test('allow: a setting that cannot follow its client closes its connection after the transaction, and the log says why', async (t) => {
  const s = setup('allow');
  t.equal(s.query('set role bob'), PASS);
  t.equal(s.guard.transactionEnded({} as ServerConnection), true, 'the guard takes care of the connection');
  t.same(s.calls, ['close'], 'closed, not pooled');
  const lines = s.captured.lines().filter((l) => l.level === 40);
  t.same(
    lines.map((l) => l.statements),
    [['SET ROLE']],
  );
  t.match(lines[0].msg, /cannot follow its client.*closed after the transaction/);
  t.match(lines[0].why, [/role/]);
  s.calls.length = 0;
  t.equal(s.guard.transactionEnded({} as ServerConnection), false, 'the next transaction is pooled as usual');
});

t.test('LISTEN and UNLISTEN in a simple Query are answered through the hub, under every policy', async (t) => {
  for (const policy of ['pin', 'reject', 'allow'] as const) {
    const s = setup(policy);
    t.equal(s.query('LISTEN a; listen b; UNLISTEN a'), CONSUMED, policy);
    t.same(s.out, ['C:LISTEN', 'C:LISTEN', 'C:UNLISTEN', 'Z:I']);
    t.same([...s.subs.keys()], ['b']);
    t.same(s.calls, ['hold', 'resume'], 'input waits while the hub subscribes');
  }
  const inTx = setup('pin', { server: { status: TxStatus.InTransaction } });
  t.equal(inTx.query('LISTEN c'), PASS, 'inside a transaction block Postgres decides at commit: the server runs it');
  t.same(inTx.out, []);
  t.same([...inTx.subs.keys()], []);
});

const bind = (statement: string) => message('B', Buffer.concat([cstr(''), cstr(statement), Buffer.alloc(6)]));

t.test('LISTEN in a Parse, pipelined or in a transaction block runs on the server; afterwards its channels move to the hub', async (t) => {
  for (const policy of ['pin', 'reject', 'allow'] as const) {
    const s = setup(policy);
    t.equal(s.parse('LISTEN a', 'l1'), PASS, `${policy}: no policy applies to LISTEN`);
    t.same(s.out, []);
    t.equal(s.guard.transactionEnded(listeningConn([]).conn), false, 'a Parse alone runs nothing');
    const b = bind('l1');
    s.guard.statementUse(0x42, b, 0);
    const { conn, ran: internal } = listeningConn(['a', 'b']);
    t.equal(s.guard.transactionEnded(conn), true, 'the guard takes care of the connection');
    t.same([...s.subs.keys()], ['a', 'b'], 'the hub listens on what the server listened on');
    t.same(internal, ['UNLISTEN *'], 'then the server forgets it');
    t.same(s.calls, ['hold', 'release', 'resume'], 'and the connection goes back, unpinned');
  }
  const busy = setup('pin');
  busy.host.quiet = false;
  t.equal(busy.query('LISTEN a'), PASS, 'pipelined behind other requests');
  t.same([...busy.subs.keys()], []);
  busy.host.quiet = true;
  busy.guard.transactionEnded(listeningConn(['a']).conn);
  t.same([...busy.subs.keys()], ['a']);
});

t.test('UNLISTEN that the server runs ends the hub deliveries when it is bound', async (t) => {
  const s = setup('pin');
  s.query('LISTEN a; LISTEN b');
  t.equal(s.parse('UNLISTEN a', 'u'), PASS);
  t.same([...s.subs.keys()], ['a', 'b'], 'Parse runs nothing');
  s.guard.statementUse(0x42, bind('u'), 0);
  t.same([...s.subs.keys()], ['b']);
  s.parse('UNLISTEN *');
  s.guard.statementUse(0x42, bind(''), 0);
  t.same([...s.subs.keys()], []);
});

t.test('a client leaving with a LISTEN still on its server connection resets it before it goes back', async (t) => {
  const s = setup('allow');
  s.parse('LISTEN a');
  s.guard.statementUse(0x42, bind(''), 0);
  const ran: string[] = [];
  const conn = {
    status: TxStatus.InTransaction,
    closed: false,
    close: (r: string) => void ran.push(`close: ${r}`),
    runInternal: (sql: string) => void ran.push(sql),
  } as unknown as ServerConnection;
  t.equal(s.guard.leave(conn), true);
  t.same(ran, ['ROLLBACK']);
});

t.test('notifications go out while the client idles, and wait for its ReadyForQuery otherwise', async (t) => {
  const s = setup('pin');
  const note = (p: string) => message('A', Buffer.concat([Buffer.alloc(4), cstr('ch'), cstr(p)]));
  s.guard.notification(note('1'));
  t.same(s.out, ['A'], 'idle: delivered at once');
  s.host.quiet = false;
  s.guard.notification(note('2'));
  s.host.quiet = true;
  s.host.clientStatus = TxStatus.InTransaction;
  s.guard.notification(note('3'));
  s.guard.flush();
  t.same(s.out, ['A'], 'queued while busy or inside a transaction');
  s.host.clientStatus = TxStatus.Idle;
  s.guard.flush();
  t.same(s.out, ['A', 'A', 'A'], 'delivered in order once idle');
});

t.test('dispose unsubscribes every channel', async (t) => {
  const s = setup('pin');
  s.query('LISTEN a; LISTEN b');
  s.guard.dispose();
  t.same([...s.subs.keys()], []);
});

t.test("a LISTEN the hub cannot serve gets an error, and the same Query's earlier LISTENs are undone", async (t) => {
  const subs = new Set<string>();
  const s = setup('pin', {
    hub: {
      subscribe: (_p, ch, _sub, done) => (ch === 'b' ? done('could not connect') : (subs.add(ch), done(null))),
      unsubscribe: (_p, ch) => void subs.delete(ch),
    },
  });
  t.equal(s.query('LISTEN a; LISTEN b'), CONSUMED);
  t.same(s.out, ['C:LISTEN', 'E:08006', 'Z:I']);
  t.same([...subs], []);
});

t.test('a client that leaves while its LISTEN is on its way is unsubscribed when it completes', async (t) => {
  const pending: Array<(e: string | null) => void> = [];
  const unsubscribed: string[] = [];
  const s = setup('pin', {
    hub: {
      subscribe: (_p, _ch, _sub, done) => void pending.push(done),
      unsubscribe: (_p, ch) => void unsubscribed.push(ch),
    },
  });
  s.query('LISTEN a; LISTEN b');
  s.guard.dispose();
  t.same(unsubscribed, ['a'], 'what was asked for is given up at once');
  pending[0](null);
  t.same(unsubscribed, ['a', 'a'], 'and again once the hub confirms it');
  t.equal(pending.length, 1, 'the rest of the Query is not run');
  t.same(s.out, [], 'nothing is written to a client that is gone');
});

t.test('a statement too large to scan: the connection is closed after its transaction instead of released', async (t) => {
  const s = setup('allow');
  const conn = { status: TxStatus.Idle, closed: false } as unknown as ServerConnection;
  t.equal(s.guard.transactionEnded(conn), false, 'an ordinary transaction: the session releases the connection');
  s.guard.unscanned();
  t.equal(s.guard.transactionEnded(conn), true, 'the guard takes care of it');
  t.same(s.calls, ['close'], 'closed, not released');
  t.equal(s.guard.transactionEnded(conn), false, 'once: the next transaction is ordinary again');
  t.match(s.captured.lines(), [{ msg: /closed after the transaction/, reason: /too large to scan/ }]);
});

t.test('a statement too large to scan, then the client leaves: its connection is closed', async (t) => {
  const s = setup('reject');
  const closed: string[] = [];
  const conn = { status: TxStatus.InTransaction, closed: false, close: (r: string) => void closed.push(r) } as unknown as ServerConnection;
  s.guard.unscanned();
  t.equal(s.guard.leave(conn), true);
  t.match(closed, [/too large to scan/]);
});

t.test('a statement too large to scan in session mode changes nothing (the reset query runs anyway)', async (t) => {
  const s = setup('pin', { mode: 'session' });
  s.guard.unscanned();
  t.equal(s.guard.transactionEnded({ status: TxStatus.Idle } as unknown as ServerConnection), false);
});

t.test('a lost server connection: the next one is closed too, since the statement may be sent to it again', async (t) => {
  const s = setup('allow');
  s.guard.unscanned();
  s.guard.serverLost();
  t.equal(s.guard.transactionEnded({ status: TxStatus.Idle } as unknown as ServerConnection), true);
  t.same(s.calls, ['close']);
});
