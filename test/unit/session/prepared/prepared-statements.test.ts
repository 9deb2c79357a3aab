// Tests for a client's named statements in transaction mode, against a simulated server: renaming, injected and swallowed messages, Sluice's own answers in reply order, errors, undo, retry.
import t from 'tap';
import {
  bind,
  closePortal,
  closeStatement,
  describePortal,
  describeStatement,
  execute,
  parse,
  queryMsg,
  syncMsg,
} from '../../../helpers/wire.js';
import * as encode from '../../../../lib/protocol/encode.js';
import { FakeLink } from '../../../helpers/fake-link.js';
import { PreparedStatements } from '../../../../lib/session/prepared/prepared-statements.js';
import { StatementRegistry } from '../../../../lib/session/prepared/statement-registry.js';
import type { Pool } from '../../../../lib/pool/pool.js';

interface Setup {
  max?: number;
  registry?: StatementRegistry;
  /** Another client's server connection, to share its prepared statements. */
  server?: FakeLink;
}

function setup({ max = 200, registry = new StatementRegistry(), server }: Setup = {}) {
  let link: FakeLink | null = null;
  /** Where the client's bytes are recorded: the link of the server connection it is on. */
  let current: FakeLink | null = null;
  const held = { count: 0, resumed: 0 };
  const host = {
    serverData: (b: Buffer, s: number, e: number) => (current ?? (link as FakeLink)).toClient(b, s, e),
    hold: () => void held.count++,
    resume: () => void held.resumed++,
  };
  const ps = new PreparedStatements(registry, host);
  link = new FakeLink(() => ps.replies, server?.statements);
  const pool = {
    preparedStats: { hits: 0, misses: 0, evictions: 0 },
    stats: { clientParseCount: 0, serverParseCount: 0, bindCount: 0 },
    settings: { maxPreparedStatements: max },
  } as unknown as Pool;
  ps.attach(link.conn, pool);
  /** Sends client frames as the session would: those send() lets through go out as they are. */
  const sendOn = (to: FakeLink, ...frames: Buffer[]) => {
    for (const f of frames) if (ps.send(f[0], f, 0, f.length)) to.write(f);
  };
  const send = (...frames: Buffer[]) => sendOn(link as FakeLink, ...frames);
  /** The client's next transaction runs on `to`. */
  const moveTo = (to: FakeLink) => {
    ps.detach();
    current = to;
    ps.attach(to.conn, pool);
  };
  return { ps, link, pool, send, sendOn, registry, held, moveTo };
}

const nameOf = (link: FakeLink, i: number) => link.sentSummary()[i].split(' ')[1];

t.test("a named Parse goes out under Sluice's name; its Bind is renamed; the replies pass", async (t) => {
  const { link, send, pool } = setup();
  send(parse('select $1::int', 'mine'), bind(['1'], { statement: 'mine' }), execute(), syncMsg());
  const [p, b, e, s] = link.sentSummary();
  t.match(p, /^P sluice_[0-9a-f]{32}$/);
  t.equal(b, `B ${nameOf(link, 0)}`);
  t.same([e, s], ['E', 'S']);
  link.replies('12DCZ');
  t.same(link.client, ['1', '2', 'D', 'C', 'Z']);
  t.same(pool.preparedStats, { hits: 1, misses: 1, evictions: 0 });
  t.match(pool.stats, { clientParseCount: 1, serverParseCount: 1, bindCount: 1 }, 'SHOW STATS counters');
  send(bind(['2'], { statement: 'mine' }), execute(), syncMsg());
  t.match(pool.stats, { clientParseCount: 1, serverParseCount: 1, bindCount: 2 }, 'a Bind of a prepared statement parses nothing');
});

t.test('a statement the server already has: ParseComplete is answered by Sluice, in its turn', async (t) => {
  const registry = new StatementRegistry();
  const first = setup({ registry });
  first.send(parse('select 1', 'a'), syncMsg());
  first.link.replies('1Z');
  const { link, send } = setup({ registry, server: first.link });
  send(parse('select 2'), bind(), execute(), parse('select 1', 'b'), bind([], { statement: 'b' }), execute(), syncMsg());
  t.same(
    link.sentSummary().map((s) => s[0]),
    ['P', 'B', 'E', 'B', 'E', 'S'],
    "the known statement's Parse is not sent",
  );
  t.same(link.client, [], "nothing answered before the server's replies to the earlier requests");
  link.replies('12DC');
  t.same(link.client, ['1', '2', 'D', 'C', '1'], "ParseComplete right after the unnamed statement's results");
  link.replies('2DCZ');
  t.same(link.client, ['1', '2', 'D', 'C', '1', '2', 'D', 'C', 'Z']);
});

t.test('Bind of a statement missing on this server: Parse injected, its ParseComplete swallowed', async (t) => {
  const { link, send, sendOn, ps, pool } = setup();
  send(parse('select 1', 'a'), syncMsg());
  link.replies('1Z');
  ps.detach();
  // The next transaction lands on another server connection, which has none of it.
  const other = new FakeLink(() => ps.replies);
  ps.attach(other.conn, pool);
  sendOn(other, bind([], { statement: 'a' }), execute(), syncMsg());
  t.same(
    other.sentSummary().map((s) => s[0]),
    ['P', 'B', 'E', 'S'],
  );
  other.replies('12DCZ');
  t.same(other.client, ['2', 'D', 'C', 'Z']);
});

t.test('beyond the bound the least recently used is closed, and its CloseComplete swallowed', async (t) => {
  const { link, send, ps, pool } = setup({ max: 1 });
  send(parse('select 1', 'a'), syncMsg());
  link.replies('1Z');
  ps.detach();
  ps.attach(link.conn, pool);
  send(parse('select 2', 'b'), bind([], { statement: 'b' }), execute(), syncMsg());
  t.same(
    link
      .sentSummary()
      .slice(2)
      .map((s) => s[0]),
    ['C', 'P', 'B', 'E', 'S'],
    'Close of the old one first',
  );
  link.replies('312DCZ');
  t.same(link.client.slice(2), ['1', '2', 'D', 'C', 'Z']);
  t.equal(pool.preparedStats.evictions, 1);
});

t.test("an unknown name: a failing request in its place, the pooler's 26000, the rest dropped until Sync", async (t) => {
  const { link, send } = setup();
  send(bind([], { statement: 'nope' }), execute(), parse('select 1', 'x'), syncMsg());
  t.same(link.sentSummary(), ['D sluice_', 'S']);
  link.replies('EZ');
  t.same(link.client, ['E26000', 'Z']);
  send(parse('select 1', 'x'), syncMsg());
  t.match(link.sentSummary()[2], /^P sluice_/, 'the dropped Parse never took the name');
});

t.test('a duplicate name: 42P05', async (t) => {
  const { link, send } = setup();
  send(parse('select 1', 'd'), parse('select 2', 'd'), syncMsg());
  link.replies('1EZ');
  t.same(link.client, ['1', 'E42P05', 'Z']);
});

t.test('a server error skips to Sync and takes back what the skipped requests did', async (t) => {
  const { link, send } = setup();
  send(parse('select 1', 'keep'), syncMsg());
  link.replies('1Z');
  send(parse('bad sql', 'a'), closeStatement('keep'), parse('select 3', 'b'), syncMsg());
  link.reply('E', '42601');
  link.reply('Z');
  t.same(link.client.slice(2), ['E42601', 'Z'], "Sluice's CloseComplete for the skipped Close is not sent");
  const before = link.sent.length;
  send(bind([], { statement: 'keep' }), execute(), syncMsg());
  t.same(
    link
      .sentSummary()
      .slice(before)
      .map((s) => s[0]),
    ['B', 'E', 'S'],
    'the skipped Close did not drop "keep"',
  );
  send(parse('select 3', 'b'), parse('ok', 'a'), syncMsg());
  t.notOk(
    link
      .sentSummary()
      .slice(before + 3)
      .some((s) => s === 'D sluice_'),
    'neither a nor b was left registered',
  );
});

t.test("Close of the client's name: answered by Sluice; the server keeps the statement for others", async (t) => {
  const { link, send, registry } = setup();
  send(parse('select 1', 'c'), syncMsg(), closeStatement('c'), syncMsg());
  link.replies('1Z');
  t.same(link.client, ['1', 'Z', '3'], 'CloseComplete follows the first ReadyForQuery');
  link.reply('Z');
  t.equal(registry.size, 0, 'the registry forgot it');
  t.ok(link.statements.size === 1, 'still prepared on the server');
});

t.test('a stale statement outside a transaction: the failed try is swallowed and the request sent again', async (t) => {
  const { link, send } = setup();
  send(parse('select * from t', 's'), syncMsg());
  link.replies('1Z');
  send(bind([], { statement: 's' }), execute(), syncMsg());
  link.reply('E', '0A000');
  t.same(link.client.slice(2), [], 'the error is not shown');
  t.same(
    link
      .sentSummary()
      .slice(2 + 3)
      .map((s) => s[0]),
    ['C', 'P', 'B', 'E', 'S'],
    'closed, prepared again, sent again',
  );
  link.reply('Z');
  t.same(link.client.slice(2), [], "the failed try's ReadyForQuery is swallowed too");
  link.replies('312DCZ');
  t.same(link.client.slice(2), ['2', 'D', 'C', 'Z']);
});

t.test('a stale Describe without Sync: Sluice sends the Sync, and the repeated ParameterDescription is dropped', async (t) => {
  const { link, send } = setup();
  send(parse('select * from t where a = $1', 's'), syncMsg());
  link.replies('1Z');
  send(describeStatement('s'));
  link.reply('t');
  link.reply('E', '0A000');
  t.same(link.sentSummary().slice(3), ['S', `C ${nameOf(link, 0)}`, `P ${nameOf(link, 0)}`, `D ${nameOf(link, 0)}`]);
  link.replies('Z31tT');
  t.same(link.client.slice(2), ['t', 'T'], 'one ParameterDescription, then the fresh RowDescription');
});

t.test('a stale statement inside a transaction block: the error reaches the client, no retry', async (t) => {
  const { link, send } = setup();
  send(parse('select * from t', 's'), syncMsg());
  link.replies('1Z');
  link.status = 0x54; // T
  send(bind([], { statement: 's' }), execute(), syncMsg());
  link.reply('E', '0A000');
  link.reply('Z');
  t.same(link.client.slice(2), ['E0A000', 'Z']);
  t.notOk(link.statements.has(nameOf(link, 0)), 'next time it is prepared again');
});

t.test("DISCARD ALL forgets the client's names and makes the server's copies doubtful", async (t) => {
  const { link, send } = setup();
  send(parse('select 1', 'a'), syncMsg(), queryMsg('discard all'));
  link.replies('1ZCZ');
  send(bind([], { statement: 'a' }), syncMsg());
  t.equal(link.sentSummary().at(-2), 'D sluice_', 'a is gone for the client');
  link.replies('EZ');
  send(parse('select 1', 'a'), syncMsg());
  const tail = link.sentSummary().slice(-3);
  t.same(tail, [`C ${nameOf(link, 0)}`, `P ${nameOf(link, 0)}`, 'S'], 'closed before being prepared again');
});

t.test('close() lets go of every name', async (t) => {
  const { send, link, ps, registry } = setup();
  send(parse('select 1', 'a'), parse('select 2', 'b'), syncMsg());
  link.replies('11Z');
  t.equal(registry.size, 2);
  ps.close();
  t.equal(registry.size, 0);
});

t.test('a skipped eviction leaves the old statement known; a skipped prepare leaves the new one unknown', async (t) => {
  const { link, send, ps, pool } = setup({ max: 1 });
  const nextTransaction = () => {
    ps.detach();
    ps.attach(link.conn, pool);
  };
  send(parse('select 1', 'a'), syncMsg());
  link.replies('1Z');
  const a = nameOf(link, 0);
  nextTransaction();
  send(parse('select 2', 'b'), syncMsg());
  link.replies('31Z');
  const b = nameOf(link, 3);
  t.same(link.statements.names(), [b], 'a was closed to make room for b');
  nextTransaction();
  // An unnamed statement fails first: the Close of b and the Parse of a that follow are skipped.
  const before = link.sent.length;
  send(parse('bad'), bind([], { statement: 'a' }), execute(), syncMsg());
  t.same(link.sentSummary().slice(before), ['P ', `C ${b}`, `P ${a}`, `B ${a}`, 'E', 'S']);
  link.reply('E', '42601');
  link.reply('Z');
  t.same(link.statements.names(), [b], 'b is still known, a is not');
  t.same(link.client.slice(-2), ['E42601', 'Z']);
});

t.test('Close of a portal and of the unnamed statement pass through as they are', async (t) => {
  const { link, send } = setup();
  send(closePortal('p'), closeStatement(''), syncMsg());
  t.same(link.sentSummary(), ['C p', 'C ', 'S'], 'the portal p and the unnamed statement, untouched');
  link.replies('33Z');
  t.same(link.client, ['3', '3', 'Z']);
});

const cols = (...names: string[]) => encode.rowDescription(names.map((name) => ({ name, typeOid: 23 })));

/** A client that prepared and described `s` (select *, columns id and a) on its first server connection, then moved to a new one. */
function describedThenMoved() {
  const s = setup();
  s.send(parse('select * from t', 's'), describeStatement('s'), syncMsg());
  s.link.replies('1t');
  s.link.replyFrame(cols('id', 'a'));
  s.link.reply('Z');
  const other = new FakeLink(() => s.ps.replies);
  s.moveTo(other);
  return { ...s, other, send: (...frames: Buffer[]) => s.sendOn(other, ...frames) };
}

t.test('a described statement on a connection without it: prepared, described, and the Bind held until the columns match', async (t) => {
  const { other, send, held } = describedThenMoved();
  send(bind([], { statement: 's' }), execute(), syncMsg());
  const name = nameOf(other, 0);
  t.same(other.sentSummary(), [`P ${name}`, `D ${name}`, 'H'], "nothing of the client's goes yet");
  t.equal(held.count, 1, 'the session holds its input meanwhile');
  other.replies('1t');
  t.same(other.sentSummary().length, 3);
  other.replyFrame(cols('id', 'a'));
  t.same(other.sentSummary().slice(3), [`B ${name}`, 'E', 'S'], 'the same columns: the held requests go');
  t.equal(held.resumed, 1);
  other.replies('2DCZ');
  t.same(other.client, ['2', 'D', 'C', 'Z'], 'the client sees only the replies to its own requests');
  send(bind([], { statement: 's' }), execute(), syncMsg());
  t.same(other.sentSummary().slice(6), [`B ${name}`, 'E', 'S'], 'checked once per copy');
});

t.test("other columns on the fresh copy: 0A000 in the Bind's place, the rest skipped to Sync, every time", async (t) => {
  const { other, send } = describedThenMoved();
  for (const first of [true, false]) {
    send(bind([], { statement: 's' }), execute(), syncMsg());
    // The second time the copy is known to differ: it is closed and prepared again, in case it was only stale.
    other.replies(first ? '1t' : '31t');
    other.replyFrame(cols('id', 'a', 'extra'));
    t.same(other.sentSummary().slice(-2), ['D sluice_', 'S'], 'a request sure to fail instead of Bind, Execute dropped');
    other.replies('EZ');
    t.same(other.client.slice(-2), ['E0A000', 'Z']);
    other.sent.length = 0;
  }
});

t.test('requests sent while others are held wait behind them', async (t) => {
  const { other, send } = describedThenMoved();
  send(bind([], { statement: 's' }), execute(), syncMsg(), parse('select 2'), bind(), execute(), syncMsg());
  t.same(
    other.sentSummary().map((s) => s[0]),
    ['P', 'D', 'H'],
  );
  other.replies('1t');
  other.replyFrame(cols('id', 'a'));
  t.same(
    other
      .sentSummary()
      .slice(3)
      .map((s) => s[0]),
    ['B', 'E', 'S', 'P', 'B', 'E', 'S'],
    'in order',
  );
});

t.test("the check's Parse fails: the server's error, and the held requests skipped to their Sync", async (t) => {
  const { other, send, held } = describedThenMoved();
  send(bind([], { statement: 's' }), execute(), syncMsg());
  other.reply('E', '42P01');
  t.same(other.sentSummary().slice(3), ['S'], 'only the Sync goes');
  t.equal(held.resumed, 1);
  other.reply('Z');
  t.same(other.client, ['E42P01', 'Z']);
  t.notOk(other.statements.has(nameOf(other, 0)), 'not prepared there');
});

t.test('a Bind whose portal the client describes next is not held, and the new columns are recorded', async (t) => {
  const { other, send, ps } = describedThenMoved();
  // In one piece, as a driver writes it: Sluice sees the Describe that follows the Bind.
  ps.sendAll([Buffer.concat([bind([], { statement: 's' }), describePortal(), execute(), syncMsg()])]);
  const name = nameOf(other, 0);
  t.same(other.sentSummary(), [`P ${name}`, `B ${name}`, 'D ', 'E', 'S'], "no Describe of Sluice's: only the client's of its portal");
  other.replies('12');
  other.replyFrame(cols('id', 'a', 'extra'));
  other.replies('DCZ');
  t.same(other.client, ['2', 'T', 'D', 'C', 'Z']);
  send(bind([], { statement: 's' }), execute(), syncMsg());
  t.same(other.sentSummary().slice(5), [`B ${name}`, 'E', 'S'], 'the client now knows these columns: no check');
});
