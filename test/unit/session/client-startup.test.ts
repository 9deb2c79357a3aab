// ClientStartup's login timer on fake time: it fires for a client that stays silent, and dies with a client that leaves.
import { EventEmitter } from 'node:events';
import type net from 'node:net';
import t from 'tap';
import { FakeClock } from '../../../lib/clock.js';
import { parseConfig } from '../../../lib/config/schema.js';
import { ClientStartup, type StartupContext } from '../../../lib/session/client-startup.js';
import { captureLog } from '../../helpers/log-capture.js';

/** The slice of a socket ClientStartup uses; close() is the peer going away. */
class FakeSocket extends EventEmitter {
  destroyed = false;
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

function setup(loginTimeoutSeconds: number) {
  const clock = new FakeClock();
  const captured = captureLog('debug');
  const config = parseConfig({ auth_type: 'trust', client_login_timeout: loginTimeoutSeconds, databases: { app: { host: 'db' } } }, { baseDir: '.' });
  const ctx: StartupContext = {
    config, clock, log: captured.log, tlsContext: null, mockKey: Buffer.alloc(32),
    knowsDatabase: () => true, cancel: () => undefined, loggedIn: () => undefined,
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
  t.same(logins().map((l) => l.reason), ['client closed the connection during login'], 'one line, and no client_login_timeout line');
  t.equal(socket.written.length, 0, 'nothing is written to the closed socket');
});

t.test('a client that stays silent is refused once client_login_timeout passes', async (t) => {
  const { clock, socket, logins } = setup(15);
  clock.advance(14_999);
  t.equal(socket.destroyed, false, 'still waiting just before the timeout');
  clock.advance(1);
  t.equal(socket.destroyed, true, 'closed at the timeout');
  t.match(logins().map((l) => l.reason), [/^SLUICE_CLIENT_LOGIN_TIMEOUT: /], 'logged once, with the timeout as reason');
  t.equal(clock.pending, 0, 'no timer left');
});
