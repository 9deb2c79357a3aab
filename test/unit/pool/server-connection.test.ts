// Tests ServerConnection's read pausing: backpressure from its linked client never outlives the link.
import { EventEmitter } from 'node:events';
import t from 'tap';
import { ServerConnection, type ServerLink } from '../../../lib/pool/server-connection.js';
import type { LoginResult } from '../../../lib/pool/server-login.js';
import { readyForQuery } from '../../helpers/bytes.js';

/** A backend socket that records whether it is being read. */
class FakeSocket extends EventEmitter {
  paused = false;
  destroyed = false;
  pause(): void {
    this.paused = true;
  }
  resume(): void {
    this.paused = false;
  }
  write(): boolean {
    return true;
  }
  end(): void {}
  destroy(): void {
    this.destroyed = true;
    this.emit('close');
  }
}

function setup() {
  const socket = new FakeSocket();
  const login = { socket, params: new Map(), pid: 1, secret: 0, tls: false } as unknown as LoginResult;
  const conn = new ServerConnection(1, login, 0, () => undefined);
  const events: string[] = [];
  const link: ServerLink = {
    serverData: () => undefined,
    batch: () => undefined,
    serverReady: () => void events.push('ready'),
    serverParameter: () => undefined,
    serverClosed: () => void events.push('closed'),
    serverDrained: () => void events.push('drained'),
    serverCopyIn: () => undefined,
    serverFault: () => undefined,
    serverBetweenMessages: () => undefined,
  };
  return { socket, conn, link, events };
}

t.test('pauseReading stops reading until resumeReading', async (t) => {
  const { socket, conn, link } = setup();
  conn.attach(link);
  conn.pauseReading();
  t.ok(socket.paused);
  t.ok(conn.readingPaused);
  conn.pauseReading();
  conn.resumeReading();
  t.notOk(socket.paused);
  t.notOk(conn.readingPaused);
});

t.test('detach and attach resume reading: a pause never outlives its link', async (t) => {
  const { socket, conn, link } = setup();
  conn.attach(link);
  conn.pauseReading();
  conn.detach();
  t.notOk(socket.paused, 'released to the pool or handed back: read again');
  conn.attach(link);
  conn.pauseReading();
  conn.attach(setup().link);
  t.notOk(socket.paused, 'linked to someone else (a state probe, another client): read again');
});

t.test('a closed connection is never paused', async (t) => {
  const { socket, conn } = setup();
  conn.close('test');
  conn.pauseReading();
  t.notOk(socket.paused);
});

t.test('drain of the server socket reaches the linked client only', async (t) => {
  const { socket, conn, link, events } = setup();
  socket.emit('drain');
  conn.attach(link);
  socket.emit('drain');
  socket.emit('data', readyForQuery());
  conn.detach();
  socket.emit('drain');
  t.same(events, ['drained', 'ready']);
});
