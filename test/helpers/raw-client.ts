// A byte-exact client for fault tests: sends raw startup packets, garbage and bad frames, and reads framed replies.
import net from 'node:net';
import { md5ClientResponse } from '../../lib/auth/md5.js';
import { decodeErrorFields, type NoticeFields } from '../../lib/protocol/decode.js';
import { cstr, message } from './bytes.js';

const DEFAULT_WAIT_MS = 5000;
export const PROTOCOL_3 = 196608;
const SSL_REQUEST = 80877103;
const GSSENC_REQUEST = 80877104;
const CANCEL_REQUEST = 80877102;

/** One backend message as read off the wire. */
export interface RawMessage {
  type: string;
  /** The whole message: type byte, length and body. */
  raw: Buffer;
  body: Buffer;
}

/** An untyped startup-phase packet: int32 length (counting itself), int32 code, then the body. */
export function startupPacket(params: Record<string, string>, version = PROTOCOL_3): Buffer {
  const pairs = Object.entries(params).flatMap(([k, v]) => [cstr(k), cstr(v)]);
  const body = Buffer.concat([...pairs, Buffer.from([0])]);
  const head = Buffer.alloc(8);
  head.writeInt32BE(8 + body.length, 0);
  head.writeInt32BE(version, 4);
  return Buffer.concat([head, body]);
}

function codePacket(code: number, extra: number[] = []): Buffer {
  const b = Buffer.alloc(8 + 4 * extra.length);
  b.writeInt32BE(b.length, 0);
  b.writeInt32BE(code, 4);
  for (const [i, v] of extra.entries()) b.writeInt32BE(v, 8 + 4 * i);
  return b;
}

export const sslRequest = (): Buffer => codePacket(SSL_REQUEST);
export const gssEncRequest = (): Buffer => codePacket(GSSENC_REQUEST);
export const cancelRequest = (pid: number, secret: number): Buffer => codePacket(CANCEL_REQUEST, [pid, secret]);

/** Just a length word, for startup packets whose declared length is impossible. */
export function lengthOnly(length: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(length >>> 0, 0);
  return b;
}

export class RawClient {
  private buf = Buffer.alloc(0);
  private wake: (() => void) | null = null;
  private ended = false;
  readonly closed: Promise<void>;

  private constructor(readonly socket: net.Socket) {
    socket.on('data', (chunk: Buffer) => {
      this.buf = Buffer.concat([this.buf, chunk]);
      this.notify();
    });
    socket.on('error', () => undefined); // A reset after the server's FATAL is expected; 'close' follows.
    this.closed = new Promise((resolve) =>
      socket.once('close', () => {
        this.ended = true;
        this.notify();
        resolve();
      }),
    );
  }

  /** localAddress picks the client's own address, e.g. 127.0.0.2 to look like another host. */
  static connect(port: number, host = '127.0.0.1', localAddress?: string): Promise<RawClient> {
    return new Promise((resolve, reject) => {
      const socket = net.connect({ port, host, localAddress });
      socket.once('error', reject);
      socket.once('connect', () => {
        socket.removeListener('error', reject);
        resolve(new RawClient(socket));
      });
    });
  }

  private notify(): void {
    const w = this.wake;
    this.wake = null;
    w?.();
  }

  /** True once the peer closed and every byte it sent has been read. */
  get drained(): boolean {
    return this.ended && this.buf.length === 0;
  }

  send(...parts: Buffer[]): void {
    this.socket.write(parts.length === 1 ? parts[0] : Buffer.concat(parts));
  }

  /** Resolves when at least n bytes are buffered; rejects on close or after waitMs. */
  private async need(n: number, waitMs: number): Promise<void> {
    const deadline = Date.now() + waitMs;
    while (this.buf.length < n) {
      if (this.ended) throw new Error(`connection closed with ${this.buf.length} of ${n} bytes buffered`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out after ${waitMs} ms waiting for ${n} bytes (have ${this.buf.length})`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
  }

  /** One unframed byte: the answer to SSLRequest or GSSENCRequest. */
  async readByte(waitMs = DEFAULT_WAIT_MS): Promise<string> {
    await this.need(1, waitMs);
    const b = this.buf[0];
    this.buf = this.buf.subarray(1);
    return String.fromCharCode(b);
  }

  async readMessage(waitMs = DEFAULT_WAIT_MS): Promise<RawMessage> {
    await this.need(5, waitMs);
    const total = this.buf.readInt32BE(1) + 1;
    await this.need(total, waitMs);
    const raw = Buffer.from(this.buf.subarray(0, total));
    this.buf = this.buf.subarray(total);
    return { type: String.fromCharCode(raw[0]), raw, body: raw.subarray(5) };
  }

  /** Reads messages up to and including the first of the given type. */
  async readUntil(type: string, waitMs = DEFAULT_WAIT_MS): Promise<RawMessage[]> {
    const out: RawMessage[] = [];
    for (;;) {
      const m = await this.readMessage(waitMs);
      out.push(m);
      if (m.type === type) return out;
    }
  }

  /** The next message, which must be an ErrorResponse; returns its fields. */
  async readError(waitMs = DEFAULT_WAIT_MS): Promise<NoticeFields> {
    const m = await this.readMessage(waitMs);
    if (m.type !== 'E') throw new Error(`expected an ErrorResponse, got '${m.type}'`);
    return errorFields(m);
  }

  /** Runs a simple Query and returns everything up to ReadyForQuery. */
  async query(sql: string, waitMs = DEFAULT_WAIT_MS): Promise<RawMessage[]> {
    this.send(message('Q', cstr(sql)));
    return this.readUntil('Z', waitMs);
  }

  /**
   * Reads every whole message until the peer closes; leftover is whatever trailed the last whole
   * message (a frame the peer never finished).
   */
  async readToEnd(waitMs = DEFAULT_WAIT_MS): Promise<{ messages: RawMessage[]; leftover: Buffer }> {
    const messages: RawMessage[] = [];
    await this.closesWithin(waitMs);
    if (!this.ended) throw new Error(`connection still open after ${waitMs} ms`);
    const whole = () => this.buf.length >= 5 && this.buf.readInt32BE(1) >= 4 && this.buf.length > this.buf.readInt32BE(1);
    while (whole()) messages.push(await this.readMessage());
    return { messages, leftover: this.buf };
  }

  /** Resolves true if the peer closes within waitMs. */
  async closesWithin(waitMs: number): Promise<boolean> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), waitMs)));
    const result = await Promise.race([this.closed.then(() => true), timeout]);
    clearTimeout(timer);
    return result;
  }

  destroy(): void {
    this.socket.destroy();
  }
}

export function errorFields(m: RawMessage): NoticeFields {
  return decodeErrorFields(m.raw, 0, m.raw.length);
}

/** The text of each DataRow's first column. */
export function firstColumn(messages: RawMessage[]): (string | null)[] {
  return messages
    .filter((m) => m.type === 'D')
    .map((m) => {
      const len = m.body.readInt32BE(2);
      return len < 0 ? null : m.body.toString('utf8', 6, 6 + len);
    });
}

export interface LoggedIn {
  client: RawClient;
  /** The BackendKeyData Sluice handed out: what a CancelRequest for this client must carry. */
  pid: number;
  secret: number;
  params: Map<string, string>;
}

/**
 * A normal md5 login (role bob by default) on a fresh connection, or on `client` when the caller
 * already negotiated something on it (SSLRequest, GSSENCRequest). Ends after the first ReadyForQuery.
 */
export async function loginMd5(
  port: number,
  opts: { user?: string; password?: string; database?: string; client?: RawClient } = {},
): Promise<LoggedIn> {
  const user = opts.user ?? 'bob';
  const password = opts.password ?? 'bob-secret';
  const client = opts.client ?? (await RawClient.connect(port));
  client.send(startupPacket({ user, database: opts.database ?? 'app' }));
  const challenge = await client.readMessage();
  if (challenge.type !== 'R' || challenge.body.readInt32BE(0) !== 5) {
    throw new Error(`expected an md5 challenge, got '${challenge.type}' ${JSON.stringify(challenge.body.toString())}`);
  }
  const salt = challenge.body.subarray(4, 8);
  client.send(message('p', cstr(md5ClientResponse(user, password, salt))));
  const params = new Map<string, string>();
  let pid = 0;
  let secret = 0;
  for (const m of await client.readUntil('Z')) {
    if (m.type === 'E') throw new Error(`login failed: ${errorFields(m).message}`);
    if (m.type === 'K') {
      pid = m.body.readInt32BE(0);
      secret = m.body.readInt32BE(4);
    }
    if (m.type === 'S') {
      const [k, v] = m.body.toString('utf8').split('\0');
      params.set(k, v);
    }
  }
  return { client, pid, secret, params };
}

/** Sends a CancelRequest on its own connection and resolves once the pooler has closed that connection. */
export async function sendCancelRequest(port: number, pid: number, secret: number): Promise<void> {
  const c = await RawClient.connect(port);
  c.send(cancelRequest(pid, secret));
  await c.closed;
}
