// Tests for matching server replies to requests: counted passthrough, Sluice's answers in turn, swallowed replies, error skips and their undo order.
import t from 'tap';
import { FakeLink } from '../../../helpers/fake-link.js';
import { ReplyKind } from '../../../../lib/session/relay/reply-queue.js';
import { StatementReplies, type RepliesOwner } from '../../../../lib/session/relay/statement-replies.js';

const NAMES = ['Pass', 'Statement', 'Described', 'Verify', 'ClientParse', 'Probe', 'Prepare', 'Close', 'Synth', 'Sync', 'Query', 'Resync'];

/** Records what the matcher asks of its owner; writes answers to the link's client. */
class Owner implements RepliesOwner {
  link!: FakeLink;
  readonly calls: string[] = [];
  retryOk = false;

  toClient(buf: Buffer, start: number, end: number): void {
    this.link.toClient(buf, start, end);
  }

  answer(ref: unknown): void {
    this.link.client.push(`answer:${String(ref)}`);
  }

  refuse(ref: unknown): void {
    this.link.client.push(`refuse:${String(ref)}`);
  }

  undo(kind: ReplyKind, ref: unknown, _aux: number, sqlstate: string | null): void {
    this.calls.push(`undo ${NAMES[kind]} ${String(ref)} ${sqlstate ?? 'skipped'}`);
  }

  statementFailed(sqlstate: string, ref: unknown, _aux: number, clean: boolean): boolean {
    this.calls.push(`failed ${String(ref)} ${sqlstate} clean=${clean}`);
    return this.retryOk;
  }

  retry(aux: number): void {
    this.calls.push(`retry ${aux}`);
  }

  described(ref: unknown, buf: Buffer, start: number): void {
    this.calls.push(`described ${String(ref)} ${String.fromCharCode(buf[start])}`);
  }

  verified(ref: unknown, buf: Buffer, start: number): void {
    this.calls.push(`verified ${String(ref)} ${String.fromCharCode(buf[start])}`);
  }
}

function setup() {
  const owner = new Owner();
  const replies = new StatementReplies(owner);
  const link = new FakeLink(() => replies);
  owner.link = link;
  replies.attach(link.conn);
  return { owner, replies, link };
}

t.test('plain replies pass untouched; a Synth is answered right after the reply before it', async (t) => {
  const { replies, link } = setup();
  replies.expect(ReplyKind.Pass);
  replies.expect(ReplyKind.Pass);
  replies.expect(ReplyKind.Synth, 'x');
  replies.expect(ReplyKind.Pass);
  replies.expect(ReplyKind.Sync);
  link.replies('1');
  t.same(link.client, ['1']);
  link.replies('2');
  t.same(link.client, ['1', '2', 'answer:x']);
  link.replies('CZ');
  t.same(link.client, ['1', '2', 'answer:x', 'C', 'Z']);
});

t.test('a Synth with nothing before it is answered at once; one after a Sync right after its ReadyForQuery', async (t) => {
  const { replies, link } = setup();
  replies.expect(ReplyKind.Synth, 'now');
  t.same(link.client, ['answer:now']);
  replies.expect(ReplyKind.Sync);
  replies.expect(ReplyKind.Synth, 'later');
  t.same(link.client, ['answer:now']);
  link.reply('Z');
  t.same(link.client, ['answer:now', 'Z', 'answer:later']);
});

t.test("the replies to Sluice's own Parse and Close are swallowed", async (t) => {
  const { replies, link } = setup();
  replies.expect(ReplyKind.Pass);
  replies.expect(ReplyKind.Close, 'old');
  replies.expect(ReplyKind.Prepare, 'new');
  replies.expect(ReplyKind.Statement, 'new');
  replies.expect(ReplyKind.Pass);
  replies.expect(ReplyKind.Sync);
  link.replies('1312CZ');
  t.same(link.client, ['1', '2', 'C', 'Z']);
});

t.test('an error: the failed request is found by counting, the rest up to Sync is undone newest first', async (t) => {
  const { replies, link, owner } = setup();
  replies.expect(ReplyKind.Pass);
  replies.expect(ReplyKind.ClientParse, 'a');
  replies.expect(ReplyKind.Synth, 'b');
  replies.expect(ReplyKind.Prepare, 'c');
  replies.expect(ReplyKind.Statement, 'c');
  replies.expect(ReplyKind.Sync);
  replies.expect(ReplyKind.Pass);
  link.reply('1');
  link.reply('E', '42601');
  t.same(owner.calls, ['undo Statement c skipped', 'undo Prepare c skipped', 'undo Synth b skipped', 'undo ClientParse a 42601']);
  t.same(link.client, ['1', 'E42601'], 'the Synth after the failed Parse is never answered');
  link.replies('Z1');
  t.same(link.client, ['1', 'E42601', 'Z', '1'], 'after the Sync, the next pipeline is counted afresh');
});

t.test('an error of a Query or a Sync itself skips nothing', async (t) => {
  const { replies, link, owner } = setup();
  replies.expect(ReplyKind.Pass);
  replies.expect(ReplyKind.Sync);
  replies.expect(ReplyKind.ClientParse, 'later');
  link.reply('1');
  link.reply('E', '40001');
  t.same(owner.calls, []);
  link.replies('Z1');
  t.same(link.client, ['1', 'E40001', 'Z', '1']);
});

t.test("a probe's error is replaced by the pooler's", async (t) => {
  const { replies, link } = setup();
  replies.expect(ReplyKind.Probe, 'mine');
  replies.expect(ReplyKind.Sync);
  link.reply('E', '26000');
  link.reply('Z');
  t.same(link.client, ['refuse:mine', 'Z']);
});

t.test("a failed statement: retried only when the owner says so; the failed try's ReadyForQuery is swallowed", async (t) => {
  const { replies, link, owner } = setup();
  replies.expect(ReplyKind.Statement, 's', 0);
  replies.expect(ReplyKind.Pass);
  replies.expect(ReplyKind.Sync);
  owner.retryOk = true;
  link.reply('E', '0A000');
  t.same(owner.calls, ['undo Pass null skipped', 'failed s 0A000 clean=true', 'retry 0']);
  t.same(link.sent.length, 0, "the client's Sync was sent already: no Sync of Sluice's");
  link.reply('Z');
  t.same(link.client, []);
  const b = setup();
  b.replies.expect(ReplyKind.Statement, 's', 0);
  b.replies.expect(ReplyKind.Sync);
  b.replies.expect(ReplyKind.Pass);
  b.link.reply('E', '0A000');
  t.same(b.owner.calls, ['failed s 0A000 clean=false'], 'something was sent after the Sync: not clean');
  t.same(b.link.client, ['E0A000']);
});

t.test("a Verify: its ParameterDescription and answer are the owner's, and what follows waits for it", async (t) => {
  const { replies, link, owner } = setup();
  replies.expect(ReplyKind.Pass);
  replies.expect(ReplyKind.Prepare, 'p');
  replies.expect(ReplyKind.Verify, 'v');
  link.replies('11');
  link.reply('t');
  link.reply('T');
  t.same(link.client, ['1'], "only the reply to the client's own request");
  t.same(owner.calls, ['verified v T']);
  replies.expect(ReplyKind.Synth, 'after');
  t.same(link.client, ['1', 'answer:after'], 'answers owed after it go at once');
});

t.test('a Described: the owner sees the columns the client is shown, then the client does', async (t) => {
  const { replies, link, owner } = setup();
  replies.expect(ReplyKind.Described, 'd');
  replies.expect(ReplyKind.Synth, 'next');
  link.reply('t');
  t.same(link.client, ['t'], "the client's own ParameterDescription passes");
  link.reply('n');
  t.same(owner.calls, ['described d n']);
  t.same(link.client, ['t', 'n', 'answer:next']);
});
