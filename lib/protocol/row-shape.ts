// The shape of a statement's result as a client decodes it: a fingerprint of a RowDescription (or NoData), and comparing two.
import { Backend } from './codes.js';

/** The shape of a statement that returns no rows (its Describe answers NoData). */
export const NO_ROWS: Buffer = Buffer.alloc(0);

/**
 * What a driver that caches a description relies on: the column count, and each column's name, type,
 * type length and type modifier. The source table and column number are left out (a table dropped and
 * made again with the same columns decodes the same), and so are format codes, which Bind chooses.
 * buf[start, end) is a whole RowDescription or NoData message.
 */
export function rowShape(buf: Buffer, start: number, end: number): Buffer {
  if (buf[start] !== Backend.RowDescription) return NO_ROWS;
  if (end < start + 7) return Buffer.from(buf.subarray(start + 5, end));
  const count = buf.readInt16BE(start + 5);
  const parts: Buffer[] = [buf.subarray(start + 5, start + 7)];
  let at = start + 7;
  for (let i = 0; i < count && at < end; i++) {
    const nul = buf.indexOf(0, at);
    if (nul < 0 || nul + 19 > end) break;
    parts.push(buf.subarray(at, nul + 1), buf.subarray(nul + 7, nul + 17));
    at = nul + 19;
  }
  return Buffer.concat(parts);
}

/** The same shape: the same buffer (the usual case once compared) or the same bytes. */
export function sameShape(a: Buffer, b: Buffer): boolean {
  return a === b || a.equals(b);
}
