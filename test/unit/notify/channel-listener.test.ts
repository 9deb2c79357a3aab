// Tests for the notify listener connection against a fake backend: LISTEN on demand, fan-out, UNLISTEN, close when empty, reconnect with backoff, login failure.
import t from 'tap';
import net from 'node:net';
import { ChannelListener, type NotifySubscriber } from '../../../lib/notify/channel-listener.js';
import { FakeClock } from '../../helpers/fake-clock.js';
import { silentLogger } from '../../../lib/log.js';
import type { ServerTarget } from '../../../lib/pool/server-login.js';
import { startFakeBackend } from '../../helpers/fake-backend.js';

function target(port: number): ServerTarget {
  return { host: '127.0.0.1', port, dbname: 'app', user: 'u', sslmode: 'disable', connectTimeoutMs: 2000 };
}

class Sub implements NotifySubscriber {
  readonly got: string[] = [];
  private wake: (() => void) | null = null;
  notification(frame: Buffer): void {
    t.equal(frame[0], 0x41, 'a NotificationResponse frame, as the server sent it');
    const [channel, payload] = frame.toString('utf8', 9, frame.length - 1).split('\0');
    this.got.push(`${channel}:${payload}`);
    this.wake?.();
  }
  async waitFor(n: number): Promise<void> {
    while (this.got.length < n) await new Promise<void>((r) => (this.wake = r));
  }
}

const subscribe = (l: ChannelListener, channel: string, sub: NotifySubscriber) =>
  new Promise<string | null>((resolve) => l.subscribe(channel, sub, resolve));

async function until(cond: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 5000;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

function listener(port: number, clock = new FakeClock()) {
  const emptied: ChannelListener[] = [];
  const l = new ChannelListener('app/u', { clock, log: silentLogger(), target: () => target(port), empty: (x) => emptied.push(x) });
  t.teardown(() => l.close());
  return { l, emptied, clock };
}

t.test('LISTENs on first use, fans out to every subscriber of the channel, and UNLISTENs when the last one leaves', async (t) => {
  const fake = await startFakeBackend(t, { kind: 'ok' });
  const { l, emptied } = listener(fake.port);
  const a = new Sub();
  const b = new Sub();
  t.equal(await subscribe(l, 'jobs', a), null);
  t.same(fake.queries, ['LISTEN "jobs"'], 'one LISTEN, with the name quoted');
  t.equal(await subscribe(l, 'jobs', b), null, 'a second subscriber is confirmed at once');
  t.equal(await subscribe(l, 'Other "q"', b), null);
  t.same(fake.queries, ['LISTEN "jobs"', 'LISTEN "Other ""q"""'], 'case and quotes survive');
  fake.notify('jobs', 'one');
  fake.notify('nobody', 'x');
  fake.notify('Other "q"', 'two');
  await a.waitFor(1);
  await b.waitFor(2);
  t.same(a.got, ['jobs:one']);
  t.same(b.got, ['jobs:one', 'Other "q":two']);
  l.unsubscribe('jobs', a);
  t.equal(fake.queries.length, 2, 'b still listens on jobs');
  l.unsubscribe('jobs', b);
  await until(() => fake.queries.length === 3, 'the UNLISTEN');
  t.equal(fake.queries[2], 'UNLISTEN "jobs"');
  l.unsubscribe('Other "q"', b);
  await until(() => fake.open === 0, 'the connection to close');
  t.same(emptied, [l], 'the owner is told it can forget the listener');
});

t.test('a lost connection is re-established after a backoff on the clock, and every channel LISTENed again', async (t) => {
  const fake = await startFakeBackend(t, { kind: 'ok' });
  const { l, clock } = listener(fake.port);
  const a = new Sub();
  await subscribe(l, 'c1', a);
  await subscribe(l, 'c2', a);
  const firstPid = l.pid;
  fake.dropAll();
  await until(() => l.gaps === 1, 'the loss to be noticed');
  t.notOk(l.connected);
  t.equal(await subscribe(l, 'c3', a), null, 'subscribing while reconnecting is accepted');
  const before = fake.logins;
  clock.advance(99);
  await new Promise((r) => setTimeout(r, 50));
  t.equal(fake.logins, before, 'no reconnect before the backoff');
  clock.advance(1);
  await until(() => l.listeningCount === 3, 'the channels to be LISTENed again');
  t.ok(l.connected);
  t.not(l.pid, firstPid, 'a new backend');
  t.match(fake.queries[fake.queries.length - 1], /^LISTEN "c1"; LISTEN "c2"; LISTEN "c3"$/);
  fake.notify('c3', 'back');
  await a.waitFor(1);
  t.same(a.got, ['c3:back']);
});

t.test('when the server cannot be reached, subscribers waiting for it get the error and are not subscribed', async (t) => {
  const closed = net.createServer();
  await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
  const port = (closed.address() as net.AddressInfo).port;
  await new Promise<void>((r) => closed.close(() => r()));
  const { l, emptied } = listener(port);
  const err = await subscribe(l, 'c', new Sub());
  t.match(err, /ECONNREFUSED/);
  t.equal(l.channelCount, 0);
  t.same(emptied, [l]);
});

t.test('close() fails waiters and drops the connection', async (t) => {
  const fake = await startFakeBackend(t, { kind: 'hang-query' });
  const { l } = listener(fake.port);
  const pending = subscribe(l, 'c', new Sub());
  await until(() => fake.logins === 1, 'the login');
  l.close();
  t.match(await pending, /shutting down/);
  await until(() => fake.open === 0, 'the socket to close');
});
