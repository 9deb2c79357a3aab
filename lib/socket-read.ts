// Reads plain TCP sockets below the Readable stream: Node's onread path into one reused buffer, with 'data' events as the fallback.
import net from 'node:net';
import tls from 'node:tls';

/** The symbols net.Socket keeps its onread buffer and callback under (Node internals, found by a probe at startup). */
export interface OnreadSlots {
  kBuffer: symbol;
  kBufferCb: symbol;
}

interface UserBufferHandle {
  useUserBuffer?: (buf: Uint8Array) => void;
}

/** The size of the one read buffer: what one read may return, as the stream layer's per-read allocation. */
const READ_BUFFER_BYTES = 64 * 1024;

/**
 * Where the reads of a socket Sluice opened go. The socket is made with Node's public `onread` option
 * (see SocketReader.connectOptions); its owner changes once, from the login to the server connection,
 * so reads that arrive in between are kept and handed to the next owner.
 */
export class ReadRoute {
  private sink: ((chunk: Buffer) => void) | null = null;
  private held: Buffer[] | null = null;

  /** Node's onread callback: the bytes live in the shared buffer only until it returns, so they are copied out. */
  readonly deliver = (nread: number, buf: Buffer): boolean => {
    const chunk = copyOut(buf, nread);
    if (this.sink) this.sink(chunk);
    else (this.held ??= []).push(chunk);
    return true;
  };

  /** Sends every later read to sink (null: keep them), after any kept while the route had no owner. */
  to(sink: ((chunk: Buffer) => void) | null): void {
    this.sink = sink;
    const held = this.held;
    if (!sink || !held) return;
    this.held = null;
    for (const chunk of held) sink(chunk);
  }
}

/**
 * Reads sockets without the Readable stream ('data' events, its buffer list, the next-tick read-ahead, a
 * 64 KiB allocation per read): what the bare-relay measurements in docs/performance.md found worth 1–4 µs per
 * transaction. Made once at startup; every socket shares its one read buffer, since reads are handed to
 * JavaScript one at a time and copied out before the next. pause(), resume(), 'end', 'close' and 'error'
 * behave as with 'data'. TLS sockets always read through 'data'.
 */
export class SocketReader {
  private readonly buffer = Buffer.allocUnsafeSlow(READ_BUFFER_BYTES);

  /** slots: Node's internal onread fields for accepted sockets, or null to read them through 'data'. */
  constructor(private readonly slots: OnreadSlots | null) {}

  /** Looks for Node's internal onread fields on a throwaway socket; without them accepted sockets read through 'data'. */
  static detect(): SocketReader {
    return new SocketReader(onreadSlots());
  }

  /** Whether accepted sockets can be read below the stream on this Node. */
  get direct(): boolean {
    return this.slots !== null;
  }

  /** net.connect's onread option (Node's public API) for a plain TCP socket Sluice opens, reading into route. */
  connectOptions(route: ReadRoute): { buffer: Buffer; callback: (nread: number, buf: Buffer) => boolean } {
    return { buffer: this.buffer, callback: route.deliver };
  }

  /**
   * Hands every read of an open socket to onChunk: below the stream for plain TCP where Node's internals allow
   * (returns true), else through 'data' (returns false). Nothing may be waiting in the socket's stream buffer.
   */
  read(socket: net.Socket, onChunk: (chunk: Buffer) => void): boolean {
    if (this.adopt(socket, onChunk)) return true;
    socket.on('data', onChunk);
    return false;
  }

  private adopt(socket: net.Socket, onChunk: (chunk: Buffer) => void): boolean {
    const handle = (socket as unknown as { _handle: UserBufferHandle | null })._handle;
    const slots = this.slots;
    if (!slots || socket instanceof tls.TLSSocket || typeof handle?.useUserBuffer !== 'function' || socket.readableLength > 0) {
      return false;
    }
    const s = socket as unknown as Record<symbol, unknown>;
    s[slots.kBuffer] = this.buffer;
    s[slots.kBufferCb] = (nread: number, buf: Buffer): boolean => {
      onChunk(copyOut(buf, nread));
      return true;
    };
    handle.useUserBuffer(this.buffer);
    return true;
  }
}

/** Node's internal onread fields, looked for on a throwaway socket; null on a Node without them. */
export function onreadSlots(): OnreadSlots | null {
  try {
    const probe = new net.Socket({ onread: { buffer: Buffer.alloc(1), callback: () => true } } as net.SocketConstructorOpts);
    const syms = Object.getOwnPropertySymbols(probe);
    const kBuffer = syms.find((s) => s.description === 'kBuffer');
    const kBufferCb = syms.find((s) => s.description === 'kBufferCb');
    probe.destroy();
    return kBuffer && kBufferCb ? { kBuffer, kBufferCb } : null;
  } catch {
    return null;
  }
}

/** A read's bytes in a Buffer of their own (pooled below 4 KiB), since the read buffer is reused by the next read. */
function copyOut(buf: Buffer, nread: number): Buffer {
  const out = Buffer.allocUnsafe(nread);
  buf.copy(out, 0, 0, nread);
  return out;
}
