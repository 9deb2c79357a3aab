// Tests SocketReader: accepted sockets read below the stream or through 'data', sockets Sluice opens through onread routes.
import net from 'node:net';
import tls from 'node:tls';
import { once } from 'node:events';
import t, { type Test } from 'tap';
import { onreadSlots, ReadRoute, SocketReader } from '../../lib/socket-read.js';

/** A connected pair on loopback: the accepted side and the client side, destroyed at teardown. */
async function pair(tt: Test): Promise<{ accepted: net.Socket; client: net.Socket }> {
  const server = net.createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as net.AddressInfo;
  const client = net.connect(port, '127.0.0.1');
  const [accepted] = (await once(server, 'connection')) as [net.Socket];
  server.close();
  tt.teardown(() => {
    client.destroy();
    accepted.destroy();
  });
  return { accepted, client };
}

/** Collects chunks until `bytes` bytes arrived. */
function collector(bytes: number): { chunks: Buffer[]; onChunk: (c: Buffer) => void; done: Promise<void> } {
  const chunks: Buffer[] = [];
  let got = 0;
  let resolve: () => void = () => undefined;
  const done = new Promise<void>((r) => (resolve = r));
  const onChunk = (c: Buffer): void => {
    chunks.push(c);
    got += c.length;
    if (got >= bytes) resolve();
  };
  return { chunks, onChunk, done };
}

const turns = (n: number): Promise<void> => new Promise((r) => setTimeout(r, n));

t.ok(
  onreadSlots(),
  "this Node has the onread fields accepted sockets are read with (CI's Node must, or every client reads through 'data')",
);

t.test('an accepted socket read below the stream: its chunks, no data events, kept chunks survive later reads', async (t) => {
  const { accepted, client } = await pair(t);
  const reader = SocketReader.detect();
  t.ok(reader.direct, 'the reader reads accepted sockets directly');
  const c = collector(6);
  t.equal(reader.read(accepted, c.onChunk), true, 'read below the stream');
  let dataEvents = 0;
  accepted.on('data', () => dataEvents++);
  client.write('abc');
  await new Promise<void>((r) => {
    const check = (): unknown => (c.chunks.length > 0 ? r() : setImmediate(check));
    check();
  });
  const first = c.chunks[0]!;
  client.write('xyz');
  await c.done;
  t.equal(Buffer.concat(c.chunks).toString(), 'abcxyz', 'every byte, in order');
  t.equal(first.toString(), 'abc', 'a kept chunk is a copy: the next read into the shared buffer did not change it');
  t.equal(dataEvents, 0, "no 'data' events");
});

t.test('pause stops reading below the stream, resume starts it again; end and close still come', async (t) => {
  const { accepted, client } = await pair(t);
  const reader = SocketReader.detect();
  const c = collector(5);
  reader.read(accepted, c.onChunk);
  accepted.pause();
  client.end('hello');
  await turns(50);
  t.equal(c.chunks.length, 0, 'nothing is read while paused');
  const ended = once(accepted, 'end');
  const closed = once(accepted, 'close');
  accepted.resume();
  await c.done;
  t.equal(Buffer.concat(c.chunks).toString(), 'hello', 'read once resumed');
  await ended;
  t.pass("'end' after the last read");
  await closed;
  t.pass("'close' follows");
});

t.test("without Node's onread fields an accepted socket reads through 'data'", async (t) => {
  const { accepted, client } = await pair(t);
  const reader = new SocketReader(null);
  t.equal(reader.direct, false, 'not direct');
  const c = collector(3);
  t.equal(reader.read(accepted, c.onChunk), false, "through 'data'");
  t.equal(accepted.listenerCount('data'), 1, "the chunk handler listens to 'data'");
  client.write('abc');
  await c.done;
  t.equal(Buffer.concat(c.chunks).toString(), 'abc', 'every byte');
});

t.test("a TLS socket always reads through 'data'", async (t) => {
  const { accepted } = await pair(t);
  const secure = new tls.TLSSocket(accepted, { isServer: true, secureContext: tls.createSecureContext() });
  t.teardown(() => secure.destroy());
  t.equal(
    SocketReader.detect().read(secure, () => undefined),
    false,
    "through 'data'",
  );
  t.equal(secure.listenerCount('data'), 1, "the chunk handler listens to 'data'");
});

t.test('a socket opened with connectOptions: reads go to its route, are kept while it has no owner, and replayed in order', async (t) => {
  const server = net.createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as net.AddressInfo;
  const reader = new SocketReader(null);
  const route = new ReadRoute();
  const first = collector(3);
  route.to(first.onChunk);
  const socket = net.connect({ port, host: '127.0.0.1', onread: reader.connectOptions(route) });
  const [accepted] = (await once(server, 'connection')) as [net.Socket];
  server.close();
  t.teardown(() => {
    socket.destroy();
    accepted.destroy();
  });
  let dataEvents = 0;
  socket.on('data', () => dataEvents++);
  accepted.write('one');
  await first.done;
  t.equal(Buffer.concat(first.chunks).toString(), 'one', 'the first owner reads');
  route.to(null);
  accepted.write('two');
  await turns(50);
  t.equal(first.chunks.length, 1, 'reads after the owner left do not reach it');
  const second = collector(6);
  route.to(second.onChunk);
  accepted.write('six');
  await second.done;
  t.equal(Buffer.concat(second.chunks).toString(), 'twosix', 'the next owner gets what was kept, then later reads, in order');
  t.equal(dataEvents, 0, "no 'data' events");
});
