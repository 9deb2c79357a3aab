// Tests for one client's hub channels with a fake hub and server connection: LISTEN/UNLISTEN replies, and moving a server connection's LISTENs to the hub.
import t from 'tap';
import { ClientChannels } from '../../../../lib/session/state/state-listen.js';
import type { NotifyHub, NotifySubscriber } from '../../../../lib/notify/notify-hub.js';
import { listeningConn } from '../../../helpers/listening-conn.js';

function setup(failing = new Set<string>()) {
  const subs = new Set<string>();
  const pending: Array<() => void> = [];
  let deferred = false;
  const hub = {
    subscribe: (_p: unknown, ch: string, _s: NotifySubscriber, done: (e: string | null) => void) => {
      const finish = () => (failing.has(ch) ? done('could not connect') : (subs.add(ch), done(null)));
      if (deferred) pending.push(finish);
      else finish();
    },
    unsubscribe: (_p: string, ch: string) => void subs.delete(ch),
  } as unknown as NotifyHub;
  const out: string[] = [];
  const host = {
    pool: { name: 'app/alice', settings: { target: {} } } as never,
    toClient: (f: Buffer) => void out.push(f.toString('utf8', 5, f.length - 1)),
  };
  const channels = new ClientChannels(host, hub, { notification: () => undefined });
  return { channels, subs, out, pending, defer: () => void (deferred = true) };
}

t.test('LISTEN and UNLISTEN in order, each with its CommandComplete; a repeated LISTEN asks the hub nothing', async (t) => {
  const s = setup();
  const errors: unknown[] = [];
  s.channels.run(
    [
      { listen: true, channel: 'a' },
      { listen: true, channel: 'a' },
      { listen: true, channel: 'b' },
      { listen: false, channel: 'a' },
    ],
    (err) => errors.push(err),
  );
  t.same(s.out, ['LISTEN', 'LISTEN', 'LISTEN', 'UNLISTEN']);
  t.same(errors, [null]);
  t.same([...s.subs], ['b']);
  s.channels.run([{ listen: false, channel: null }], () => undefined);
  t.same([...s.subs], [], 'UNLISTEN * drops every channel');
});

t.test('adopt: the channels the server listens on move to the hub, then the server runs UNLISTEN *', async (t) => {
  const s = setup();
  s.channels.run([{ listen: true, channel: 'a' }], () => undefined);
  const c = listeningConn(['a', 'b', 'c']);
  const done = await new Promise<string | null>((r) => s.channels.adopt(c.conn, r));
  t.equal(done, null);
  t.same([...s.subs].sort(), ['a', 'b', 'c']);
  t.same(c.ran, ['UNLISTEN *']);
  t.same(s.out, ['LISTEN'], 'the client is told nothing: Postgres answered its LISTEN already');
});

t.test('adopt waits for the hub before the server forgets, and keeps the server listening if the hub fails', async (t) => {
  const s = setup(new Set(['bad']));
  s.defer();
  const c = listeningConn(['ok', 'bad']);
  const done = new Promise<string | null>((r) => s.channels.adopt(c.conn, r));
  t.same(c.ran, [], 'nothing is unlistened while the hub subscribes');
  for (const p of s.pending) p();
  t.equal(await done, 'could not connect');
  t.same(c.ran, [], 'no UNLISTEN *: the server still delivers to this client');
});

t.test('adopt: a server listening on nothing (the LISTEN was rolled back) needs no UNLISTEN', async (t) => {
  const s = setup();
  const c = listeningConn([]);
  t.equal(await new Promise<string | null>((r) => s.channels.adopt(c.conn, r)), null);
  t.same(c.ran, []);
  const again = listeningConn(['a']);
  s.channels.run([{ listen: true, channel: 'a' }], () => undefined);
  t.equal(await new Promise<string | null>((r) => s.channels.adopt(again.conn, r)), null);
  t.same(again.ran, ['UNLISTEN *'], 'a channel the hub has already is still dropped on the server');
});

t.test('dispose drops every subscription, and one confirmed afterwards', async (t) => {
  const s = setup();
  s.channels.run([{ listen: true, channel: 'a' }], () => undefined);
  s.defer();
  s.channels.run([{ listen: true, channel: 'b' }], () => t.fail('a client that is gone is not answered'));
  s.channels.dispose();
  for (const p of s.pending) p();
  t.same([...s.subs], []);
});
