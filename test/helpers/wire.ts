// A raw protocol-3.0 client for wire-level tests: logs in by itself (trust, cleartext, md5, SCRAM) and reads backend messages one at a time.
import net from 'node:net';
import { md5ClientResponse } from '../../lib/auth/md5.js';
import { ScramClientSession } from '../../lib/auth/scram.js';
import { cstr, message } from './bytes.js';

/** One backend message: its type as a character and its body (without type byte and length). */
export interface BackendMsg {
  type: string;
  body: Buffer;
}

export interface WireLogin {
  host: string;
  port: number;
  user: string;
  password: string;
  database: string;
  /** Extra startup parameters (application_name, ...). */
  params?: Record<string, string>;
}

const DEFAULT_WAIT_MS = 10_000;

interface Reader {
  resolve(m: BackendMsg): void;
  reject(e: Error): void;
}

export class WireClient {
  /** ParameterStatus values seen so far. */
  readonly params = new Map<string, string>();
  pid = 0;
  secret = 0;
  private buf: Buffer = Buffer.alloc(0);
  private readonly queue: BackendMsg[] = [];
  private reader: Reader | null = null;
  private closedWith: Error | null = null;

  private constructor(readonly socket: net.Socket) {
    socket.on('data', (chunk: Buffer) => this.receive(chunk));
    socket.on('error', () => undefined); // 'close' follows and fails any pending read
    socket.on('close', () => this.closed(new Error('connection closed by the server')));
  }

  /** Connects and completes the login through the first ReadyForQuery. */
  static async connect(login: WireLogin): Promise<WireClient> {
    const socket = net.connect({ host: login.host, port: login.port });
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    });
    const c = new WireClient(socket);
    await c.login(login);
    return c;
  }

  /** Messages already received and not yet read. */
  get buffered(): number {
    return this.queue.length;
  }

  /** Sends all frames in ONE socket write, so the server sees them as a single pipeline. */
  send(...frames: Buffer[]): void {
    this.socket.write(Buffer.concat(frames));
  }

  /** The next backend message; rejects if none arrives in time or the connection closes. */
  next(waitMs = DEFAULT_WAIT_MS): Promise<BackendMsg> {
    const ready = this.queue.shift();
    if (ready) return Promise.resolve(ready);
    if (this.closedWith) return Promise.reject(this.closedWith);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.reader = null;
        reject(new Error(`no backend message within ${waitMs} ms`));
      }, waitMs);
      this.reader = {
        resolve: (m) => (clearTimeout(timer), resolve(m)),
        reject: (e) => (clearTimeout(timer), reject(e)),
      };
    });
  }

  /** Reads messages through the count-th ReadyForQuery (inclusive). */
  async untilReady(count = 1): Promise<BackendMsg[]> {
    const out: BackendMsg[] = [];
    while (count > 0) {
      const m = await this.next();
      out.push(m);
      if (m.type === 'Z') count--;
    }
    return out;
  }

  /** Sends Terminate and waits for the socket to close. */
  async close(): Promise<void> {
    if (this.socket.destroyed) return;
    const done = new Promise((resolve) => this.socket.once('close', resolve));
    this.socket.end(message('X'));
    await done;
  }

  private receive(chunk: Buffer): void {
    this.buf = this.buf.length ? Buffer.concat([this.buf, chunk]) : chunk;
    while (this.buf.length >= 5) {
      const total = this.buf.readInt32BE(1) + 1;
      if (this.buf.length < total) break;
      const msg = { type: String.fromCharCode(this.buf[0]), body: Buffer.from(this.buf.subarray(5, total)) };
      this.buf = this.buf.subarray(total);
      const r = this.reader;
      this.reader = null;
      if (r) r.resolve(msg);
      else this.queue.push(msg);
    }
  }

  private closed(err: Error): void {
    this.closedWith = err;
    const r = this.reader;
    this.reader = null;
    r?.reject(err);
  }

  private async login(l: WireLogin): Promise<void> {
    this.socket.write(startupMessage({ user: l.user, database: l.database, ...l.params }));
    let scram: ScramClientSession | null = null;
    for (;;) {
      const m = await this.next();
      if (m.type === 'E') throw new Error(`login failed: ${errorFields(m).M}`);
      if (m.type === 'S') {
        const [name, value] = cstrings(m.body);
        this.params.set(name, value);
      } else if (m.type === 'K') {
        this.pid = m.body.readInt32BE(0);
        this.secret = m.body.readInt32BE(4);
      } else if (m.type === 'Z') return;
      else if (m.type === 'R') scram = this.authStep(m.body, l, scram);
    }
  }

  /** Answers one Authentication request; returns the SCRAM exchange in progress, if any. */
  private authStep(body: Buffer, l: WireLogin, scram: ScramClientSession | null): ScramClientSession | null {
    const code = body.readInt32BE(0);
    switch (code) {
      case 0:
        return scram;
      case 3:
        this.socket.write(message('p', cstr(l.password)));
        return null;
      case 5:
        this.socket.write(message('p', cstr(md5ClientResponse(l.user, l.password, body.subarray(4, 8)))));
        return null;
      case 10: {
        const session = new ScramClientSession({ password: l.password, user: l.user });
        const first = Buffer.from(session.clientFirst());
        const len = Buffer.alloc(4);
        len.writeInt32BE(first.length);
        this.socket.write(message('p', Buffer.concat([cstr('SCRAM-SHA-256'), len, first])));
        return session;
      }
      case 11:
        this.socket.write(message('p', (scram as ScramClientSession).serverFirst(body.subarray(4).toString())));
        return scram;
      case 12:
        (scram as ScramClientSession).serverFinal(body.subarray(4).toString());
        return scram;
      default:
        throw new Error(`unsupported authentication request ${code}`);
    }
  }
}

function startupMessage(params: Record<string, string>): Buffer {
  const parts: Buffer[] = [Buffer.alloc(8)];
  for (const [k, v] of Object.entries(params)) parts.push(cstr(k), cstr(v));
  parts.push(Buffer.from([0]));
  const out = Buffer.concat(parts);
  out.writeInt32BE(out.length, 0);
  out.writeInt32BE(196608, 4); // protocol 3.0
  return out;
}

function int16(n: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeInt16BE(n);
  return b;
}

/** A big-endian int32, e.g. a binary int4 argument for functionCall. */
export function int32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeInt32BE(n);
  return b;
}

/** A length-prefixed value as Bind and FunctionCall carry it; null is length -1. */
function lengthPrefixed(v: Buffer | string | null): Buffer {
  if (v === null) return int32(-1);
  const b: Buffer = typeof v === 'string' ? Buffer.from(v) : v;
  return Buffer.concat([int32(b.length), b]);
}

// Frontend frames.

export function parse(sql: string, name = '', paramTypes: number[] = []): Buffer {
  return message('P', Buffer.concat([cstr(name), cstr(sql), int16(paramTypes.length), ...paramTypes.map(int32)]));
}

/** Bind with text-format parameters (Buffers go as binary) and results in resultFormat. */
export function bind(
  values: (string | Buffer | null)[] = [],
  opts: { portal?: string; statement?: string; resultFormat?: 0 | 1 } = {},
): Buffer {
  const formats = values.map((v) => (Buffer.isBuffer(v) ? 1 : 0));
  return message(
    'B',
    Buffer.concat([
      cstr(opts.portal ?? ''),
      cstr(opts.statement ?? ''),
      int16(formats.length),
      ...formats.map(int16),
      int16(values.length),
      ...values.map(lengthPrefixed),
      int16(1),
      int16(opts.resultFormat ?? 0),
    ]),
  );
}

export const describePortal = (portal = ''): Buffer => message('D', Buffer.concat([Buffer.from('P'), cstr(portal)]));
export const describeStatement = (name = ''): Buffer => message('D', Buffer.concat([Buffer.from('S'), cstr(name)]));
export const closeStatement = (name = ''): Buffer => message('C', Buffer.concat([Buffer.from('S'), cstr(name)]));
export const closePortal = (portal = ''): Buffer => message('C', Buffer.concat([Buffer.from('P'), cstr(portal)]));
export const execute = (portal = '', maxRows = 0): Buffer => message('E', Buffer.concat([cstr(portal), int32(maxRows)]));
export const syncMsg = (): Buffer => message('S');
export const flush = (): Buffer => message('H');
/** A simple Query; encoding is the client_encoding the text is sent in. */
export const queryMsg = (sql: string, encoding: BufferEncoding = 'utf8'): Buffer => message('Q', Buffer.from(`${sql}\0`, encoding));
export const copyData = (data: string | Buffer): Buffer => message('d', data);
export const copyDone = (): Buffer => message('c');
export const copyFail = (reason: string): Buffer => message('f', cstr(reason));

/** Parse/Bind/Describe/Execute/Sync of one unnamed statement: one extended-protocol batch. */
export function extendedQuery(sql: string, values: (string | Buffer | null)[] = []): Buffer {
  return Buffer.concat([parse(sql), bind(values), describePortal(), execute(), syncMsg()]);
}

/** FunctionCall with binary arguments and a binary result. */
export function functionCall(oid: number, args: Buffer[]): Buffer {
  return message('F', Buffer.concat([int32(oid), int16(1), int16(1), int16(args.length), ...args.map(lengthPrefixed), int16(1)]));
}

// Backend message readers.

function cstrings(body: Buffer): string[] {
  const parts = body.toString('utf8').split('\0');
  parts.pop();
  return parts;
}

/** The type characters of a message sequence, e.g. "12TDCZ". */
export const typesOf = (msgs: BackendMsg[]): string => msgs.map((m) => m.type).join('');

/** DataRow columns as text in the connection's client_encoding (null for SQL NULL). */
export function dataRow(m: BackendMsg, encoding: BufferEncoding = 'utf8'): (string | null)[] {
  const n = m.body.readInt16BE(0);
  const out: (string | null)[] = [];
  let at = 2;
  for (let i = 0; i < n; i++) {
    const len = m.body.readInt32BE(at);
    at += 4;
    out.push(len < 0 ? null : m.body.toString(encoding, at, at + len));
    if (len > 0) at += len;
  }
  return out;
}

/** Every DataRow in a sequence, as text columns. */
export const rowsOf = (msgs: BackendMsg[], encoding: BufferEncoding = 'utf8'): (string | null)[][] =>
  msgs.filter((m) => m.type === 'D').map((m) => dataRow(m, encoding));

/** ErrorResponse/NoticeResponse fields by their one-letter code (C = SQLSTATE, M = message). */
export function errorFields(m: BackendMsg): Record<string, string> {
  const out: Record<string, string> = {};
  let at = 0;
  while (at < m.body.length && m.body[at] !== 0) {
    const end = m.body.indexOf(0, at + 1);
    out[String.fromCharCode(m.body[at])] = m.body.toString('utf8', at + 1, end);
    at = end + 1;
  }
  return out;
}

/** The tag of a CommandComplete, e.g. "SELECT 1". */
export const commandTag = (m: BackendMsg): string => m.body.toString('utf8', 0, m.body.length - 1);

/** The transaction status letters of every ReadyForQuery in a sequence, e.g. "ITI". */
export const statusesOf = (msgs: BackendMsg[]): string =>
  msgs
    .filter((m) => m.type === 'Z')
    .map((m) => String.fromCharCode(m.body[0]))
    .join('');

/** Splits a reply sequence after each ReadyForQuery. */
export function splitAtReady(msgs: BackendMsg[]): BackendMsg[][] {
  const out: BackendMsg[][] = [[]];
  for (const m of msgs) {
    out[out.length - 1].push(m);
    if (m.type === 'Z') out.push([]);
  }
  if (out[out.length - 1].length === 0) out.pop();
  return out;
}
