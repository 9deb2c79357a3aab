// ClientStartup on fake time and a fake socket: the login timer (fires for a silent client, dies with one that leaves) and the failed-login gate.
import { EventEmitter } from 'node:events';
import type net from 'node:net';
import t from 'tap';
import { FakeClock } from '../../../helpers/fake-clock.js';
import { parseConfig } from '../../../../lib/config/schema.js';
import { ClientStartup, type LoginGate, type StartupContext } from '../../../../lib/session/login/client-startup.js';
import { decodeErrorFields } from '../../../../lib/protocol/decode.js';
import { startupPacket } from '../../../helpers/raw-client.js';
import { cstr, message } from '../../../helpers/bytes.js';
import { captureLog } from '../../../helpers/log-capture.js';

/** The slice of a socket ClientStartup uses; close() is the peer going away. */
class FakeSocket extends EventEmitter {
  destroyed = false;
  remoteAddress = '10.0.0.9';
  readonly written: Buffer[] = [];
  write(b: Buffer): boolean {
    this.written.push(b);
    return true;
  }
  end(b?: Buffer): void {
    if (b) this.written.push(b);
    this.close();
  }
  destroy(): void {
    this.close();
  }
  close(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    this.emit('close');
  }
  cork(): void {}
  uncork(): void {}
}

function setup(loginTimeoutSeconds: number, opts: { config?: Record<string, unknown>; throttle?: LoginGate } = {}) {
  const clock = new FakeClock();
  const captured = captureLog('debug');
  const raw = { auth_type: 'trust', client_login_timeout: loginTimeoutSeconds, databases: { app: { host: 'db' } }, ...opts.config };
  const ctx: StartupContext = {
    config: parseConfig(raw, { baseDir: '.' }),
    clock,
    log: captured.log,
    tlsContext: null,
    mockKey: Buffer.alloc(32),
    knowsDatabase: () => true,
    cancel: () => undefined,
    loggedIn: () => undefined,
    throttle: opts.throttle,
  };
  const socket = new FakeSocket();
  new ClientStartup(socket as unknown as net.Socket, ctx, 7);
  const logins = () => captured.lines().filter((l) => l.msg === 'client disconnected during login');
  return { clock, socket, logins };
}

t.test('a client that leaves during login cancels its login timer: no second log line, no timer left', async (t) => {
  const { clock, socket, logins } = setup(15);
  t.equal(clock.pending, 1, 'the login timer runs while the client logs in');
  clock.advance(1000);
  socket.close();
  t.equal(clock.pending, 0, 'the timer is cleared when the socket closes');
  clock.advance(20_000);
  t.same(
    logins().map((l) => l.reason),
    ['client closed the connection during login'],
    'one line, and no client_login_timeout line',
  );
  t.equal(socket.written.length, 0, 'nothing is written to the closed socket');
});

t.test('a client that stays silent is refused once client_login_timeout passes', async (t) => {
  const { clock, socket, logins } = setup(15);
  clock.advance(14_999);
  t.equal(socket.destroyed, false, 'still waiting just before the timeout');
  clock.advance(1);
  t.equal(socket.destroyed, true, 'closed at the timeout');
  t.match(
    logins().map((l) => l.reason),
    [/^SLUICE_CLIENT_LOGIN_TIMEOUT: /],
    'logged once, with the timeout as reason',
  );
  t.equal(clock.pending, 0, 'no timer left');
});

/** A gate that records what it was asked, and refuses for `refuseMs`. */
function gate(refuseMs: number) {
  const asked: string[] = [];
  const failed: string[] = [];
  const throttle: LoginGate = { refusedFor: (a) => (asked.push(a), refuseMs), failed: (a) => void failed.push(a) };
  return { throttle, asked, failed };
}

t.test('a locked-out address is refused at its startup packet, before any authentication', async (t) => {
  const g = gate(12_500);
  const { socket, logins } = setup(15, { throttle: g.throttle, config: { auth_type: 'md5', users: { bob: { password: 'pw' } } } });
  socket.emit('data', startupPacket({ user: 'bob', database: 'app' }));
  t.same(g.asked, ['10.0.0.9'], 'the gate is asked once, with the client address');
  t.equal(socket.written.length, 1, 'one answer, and no authentication request');
  const e = decodeErrorFields(socket.written[0], 0, socket.written[0].length);
  t.same(
    [e.severity, e.code, e.message],
    ['FATAL', '08004', 'too many failed logins from 10.0.0.9: logins from this address are refused for 13 more seconds'],
  );
  t.ok(socket.destroyed, 'and the connection is closed');
  t.same(
    logins().map((l) => l.level),
    [20],
    'logged at debug only',
  );
});

t.test('a failed password is reported to the gate; an address it lets through logs in as usual', async (t) => {
  const g = gate(0);
  const { socket } = setup(15, {
    throttle: g.throttle,
    config: { auth_type: 'plain', auth_plain_without_tls: true, users: { bob: { password: 'pw' } } },
  });
  socket.emit('data', startupPacket({ user: 'bob', database: 'app' }));
  t.equal(socket.written[0]?.[0], 0x52, 'asked for a password (R)');
  socket.emit('data', message('p', cstr('wrong')));
  t.same(g.failed, ['10.0.0.9'], 'the failure is counted against the address');
  t.match(decodeErrorFields(socket.written[1], 0, socket.written[1].length), { code: '28P01' });
});
