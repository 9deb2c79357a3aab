// ConsoleSession on a fake socket: welcome, simple queries, extended-protocol refusal, bad input and bugs end only the connection.
import { Duplex } from 'node:stream';
import type net from 'node:net';
import t from 'tap';
import { ConsoleSession } from '../../../../lib/admin/console/console-session.js';
import type { AdminHost } from '../../../../lib/admin/admin-host.js';
import { FakeClock } from '../../../helpers/fake-clock.js';
import { silentLogger } from '../../../../lib/log.js';
import { message, query, sync } from '../../../helpers/bytes.js';
import { fakeHost } from '../fixtures.js';

interface Msg {
  type: string;
  body: Buffer;
}

/** A socket whose writes are collected as backend messages and whose reads the test pushes. */
function fakeSocket() {
  let out = Buffer.alloc(0);
  const socket = new Duplex({
    read() {},
    write(chunk: Buffer, _enc, done) {
      out = Buffer.concat([out, chunk]);
      done();
    },
  });
  const messages = (): Msg[] => {
    const msgs: Msg[] = [];
    for (let p = 0; p + 5 <= out.length; ) {
      const len = out.readInt32BE(p + 1);
      msgs.push({ type: String.fromCharCode(out[p]!), body: out.subarray(p + 5, p + 1 + len) });
      p += 1 + len;
    }
    out = Buffer.alloc(0);
    return msgs;
  };
  return { socket: socket as unknown as net.Socket, duplex: socket, messages };
}

function open(host: AdminHost = fakeHost(), admin = true) {
  const { socket, duplex, messages } = fakeSocket();
  let closed = 0;
  const c = new ConsoleSession(
    socket,
    { id: 7, user: 'root', database: 'pgbouncer', admin },
    {
      host,
      clock: new FakeClock(),
      log: silentLogger(),
      closed: () => closed++,
    },
  );
  c.welcome(null);
  const send = (b: Buffer) => duplex.push(b);
  /** Lets the console's async queue run. */
  const settle = () => new Promise((r) => setImmediate(r));
  return { c, send, messages, settle, closed: () => closed };
}

const types = (ms: Msg[]) => ms.map((m) => m.type).join('');
const errorCode = (m: Msg) => /C([0-9A-Z]{5})\0/.exec(m.body.toString('latin1'))?.[1];

t.test('the welcome: parameters, a key, ReadyForQuery', async (t) => {
  const { messages } = open();
  const ms = messages();
  t.equal(types(ms), 'SSSSSSSKZ');
  t.match(ms[0]!.body.toString(), /^server_version\0\d+\.\d+\.\d+\/sluice\0$/);
});

t.test('a simple query gets rows; an empty one EmptyQueryResponse', async (t) => {
  const { send, messages, settle } = open();
  messages();
  send(query('SHOW LISTS'));
  await settle();
  t.match(types(messages()), /^TD+CZ$/);
  send(query('  '));
  await settle();
  t.equal(types(messages()), 'IZ');
});

t.test('extended-protocol messages get one 0A000 per batch; Sync answers ReadyForQuery', async (t) => {
  const { send, messages, settle, closed } = open();
  messages();
  send(Buffer.concat([message('P', '\0SHOW POOLS\0\0\0'), message('B', '\0\0\0\0\0\0\0'), message('E', '\0\0\0\0\0'), sync()]));
  await settle();
  const ms = messages();
  t.equal(types(ms), 'EZ');
  t.equal(errorCode(ms[0]!), '0A000');
  t.equal(closed(), 0, 'the connection stays');
});

t.test('an unknown message type is FATAL and closes the connection', async (t) => {
  const { send, messages, settle, closed } = open();
  messages();
  send(message('?', 'x'));
  await settle();
  const ms = messages();
  t.equal(types(ms), 'E');
  t.equal(errorCode(ms[0]!), '08P01');
  t.equal(closed(), 1);
});

t.test('a bug in a command ends only this connection, with XX000', async (t) => {
  const broken = fakeHost(undefined, {
    pools: () => {
      throw new Error('boom');
    },
  });
  const { send, messages, settle, closed } = open(broken);
  messages();
  send(query('SHOW POOLS'));
  await settle();
  const ms = messages();
  t.equal(types(ms), 'E');
  t.equal(errorCode(ms[0]!), 'XX000');
  t.equal(closed(), 1);
});

t.test('Terminate closes the connection', async (t) => {
  const { send, settle, closed } = open();
  send(message('X'));
  await settle();
  t.equal(closed(), 1);
});
