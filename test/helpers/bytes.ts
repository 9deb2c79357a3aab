// Byte fixtures for protocol tests: typed frontend/backend messages built by hand, and chunk splitting.
import { Parser } from 'pg-protocol/dist/parser';
import type { BackendMessage } from 'pg-protocol/dist/messages';

/** A NUL-terminated string. */
export function cstr(s: string): Buffer {
  return Buffer.from(`${s}\0`);
}

/** A typed message: type byte, int32 length counting itself, then the body. */
export function message(type: string | number, body: Buffer | string = Buffer.alloc(0)): Buffer {
  const b = typeof body === 'string' ? Buffer.from(body) : body;
  const head = Buffer.allocUnsafe(5);
  head[0] = typeof type === 'string' ? type.charCodeAt(0) : type;
  head.writeInt32BE(4 + b.length, 1);
  return Buffer.concat([head, b]);
}

/** A message header with an arbitrary declared length, for malformed streams. */
export function header(type: string, declaredLength: number): Buffer {
  const head = Buffer.allocUnsafe(5);
  head[0] = type.charCodeAt(0);
  head.writeInt32BE(declaredLength, 1);
  return head;
}

export const sync = (): Buffer => message('S');
export const query = (sql: string): Buffer => message('Q', cstr(sql));
export const parameterStatus = (name: string, value: string): Buffer => message('S', Buffer.concat([cstr(name), cstr(value)]));
export const readyForQuery = (status = 'I'): Buffer => message('Z', status);

/** A message of the given type whose body is `size` bytes of a recognisable pattern. */
export function bulk(type: string, size: number, seed = 0): Buffer {
  const body = Buffer.allocUnsafe(size);
  for (let i = 0; i < size; i++) body[i] = (seed * 131 + i * 31) & 0xff;
  return message(type, body);
}

/** PasswordMessage / SASLResponse: 'p' and the raw body. */
export const passwordFrame = (body: Buffer | string): Buffer => message('p', body);

/** SASLInitialResponse: mechanism\0, int32 length of the data, the data. */
export function saslInitialResponse(mechanism: string, data: string): Buffer {
  const d = Buffer.from(data);
  const len = Buffer.allocUnsafe(4);
  len.writeInt32BE(d.length);
  return passwordFrame(Buffer.concat([cstr(mechanism), len, d]));
}

/** Cuts a buffer at the given offsets (any order, duplicates and out-of-range ignored) into fresh copies. */
export function splitAt(buf: Buffer, cuts: readonly number[]): Buffer[] {
  const points = [...new Set(cuts.filter((c) => c > 0 && c < buf.length))].sort((a, b) => a - b);
  const chunks: Buffer[] = [];
  let from = 0;
  for (const p of [...points, buf.length]) {
    chunks.push(Buffer.from(buf.subarray(from, p)));
    from = p;
  }
  return chunks;
}

/** Every backend message pg-protocol's client parser reads from the given bytes. */
export function parseBackend(...frames: Buffer[]): BackendMessage[] {
  const out: BackendMessage[] = [];
  new Parser().parse(Buffer.concat(frames), (m) => out.push(m));
  return out;
}
