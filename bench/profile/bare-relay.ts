// A relay with no pooling (one Postgres connection per client, bytes forwarded untouched): the floor Node's socket layers set.
import net from 'node:net';

/**
 * Modes: `stream` reads with 'data' events and writes with socket.write (what Sluice does); `onread`
 * reads each socket into one reused buffer (no Readable stream) and copies the bytes it forwards;
 * `handle` uses libuv TCP handles directly through process.binding, with no net.Socket at all.
 */
type Mode = 'stream' | 'onread' | 'handle';
const HOST = '127.0.0.1';
const READ_BUFFER = 64 * 1024;

function pairClose(a: net.Socket, b: net.Socket): void {
  const end = (): void => {
    a.destroy();
    b.destroy();
  };
  for (const s of [a, b]) s.on('error', end).on('close', end);
}

function streamRelay(client: net.Socket, pgPort: number): void {
  const server = net.connect({ host: HOST, port: pgPort, noDelay: true });
  client.on('data', (d: Buffer) => server.write(d));
  server.on('data', (d: Buffer) => client.write(d));
  pairClose(client, server);
}

/** Accepted sockets cannot be given onread, so the handle moves to a new socket that has it. */
function onreadRelay(accepted: net.Socket, pgPort: number): void {
  const raw = accepted as unknown as { _handle: unknown };
  const handle = raw._handle;
  raw._handle = null;
  accepted.destroy();
  let server: net.Socket | null = null;
  const clientRead = {
    buffer: Buffer.allocUnsafe(READ_BUFFER),
    callback: (n: number, b: Uint8Array) => void server!.write(Buffer.from(b.subarray(0, n))),
  };
  const client = new net.Socket({ handle, onread: clientRead } as net.SocketConstructorOpts);
  server = net.connect({
    host: HOST,
    port: pgPort,
    noDelay: true,
    onread: {
      buffer: Buffer.allocUnsafe(READ_BUFFER),
      callback: (n, b) => {
        client.write(Buffer.from(b.subarray(0, n)));
        return true;
      },
    },
  });
  pairClose(client, server);
}

interface TcpHandle {
  onread: ((ab: ArrayBuffer) => void) | null;
  onconnection: ((err: number, h: TcpHandle) => void) | null;
  readStart(): number;
  close(): void;
  setNoDelay(on: boolean): void;
  writeBuffer(req: object, data: Uint8Array): number;
  connect(req: object, host: string, port: number): number;
  bind(host: string, port: number): number;
  listen(backlog: number): number;
}

/** libuv handles straight from Node's internal bindings: the least JS a relay can run per read. */
function handleRelay(listenPort: number, pgPort: number): void {
  const binding = (process as unknown as { binding(name: string): Record<string, any> }).binding;
  const { TCP, TCPConnectWrap, constants } = binding('tcp_wrap');
  const { WriteWrap, streamBaseState, kReadBytesOrError, kArrayBufferOffset } = binding('stream_wrap');
  const noop = (): void => undefined;
  const pipe = (from: TcpHandle, to: TcpHandle): void => {
    from.onread = (ab) => {
      const n = streamBaseState[kReadBytesOrError] as number;
      const req = new WriteWrap();
      Object.assign(req, { handle: to, oncomplete: noop, async: false });
      if (n < 0 || to.writeBuffer(req, new Uint8Array(ab, streamBaseState[kArrayBufferOffset], n)) !== 0) {
        from.close();
        to.close();
      }
    };
  };
  const listener: TcpHandle = new TCP(constants.SERVER);
  listener.onconnection = (err, client) => {
    if (err) return;
    const server: TcpHandle = new TCP(constants.SOCKET);
    const req = new TCPConnectWrap();
    req.oncomplete = (status: number) => {
      if (status < 0) return client.close();
      for (const h of [client, server]) h.setNoDelay(true);
      pipe(client, server);
      pipe(server, client);
      client.readStart();
      server.readStart();
    };
    server.connect(req, HOST, pgPort);
  };
  listener.bind(HOST, listenPort);
  listener.listen(511);
}

function main(argv: string[]): void {
  const [mode, listenPort, pgPort] = [argv[0] as Mode, Number(argv[1]), Number(argv[2])];
  if (!['stream', 'onread', 'handle'].includes(mode) || !listenPort || !pgPort) {
    throw new Error('usage: node dist-bench/bench/profile/bare-relay.js stream|onread|handle LISTEN_PORT POSTGRES_PORT');
  }
  if (mode === 'handle') {
    handleRelay(listenPort, pgPort);
    console.log('ready');
    return;
  }
  const relay = mode === 'stream' ? streamRelay : onreadRelay;
  net
    .createServer({ noDelay: true, pauseOnConnect: mode === 'onread' }, (c) => relay(c, pgPort))
    .listen(listenPort, HOST, () => console.log('ready'));
}

main(process.argv.slice(2));
