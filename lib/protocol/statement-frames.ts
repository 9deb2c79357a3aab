// Finds and swaps the statement names that Parse, Bind, Describe and Close carry, and builds the frontend frames Sluice injects.
import { Backend, Frontend } from './codes.js';

/** Describe and Close name a prepared statement with 'S' (or a portal with 'P'). */
export const STATEMENT_TARGET = 0x53; // S
export const PORTAL_TARGET = 0x50; // P

/**
 * Backend messages that end the reply to one extended-query request (ErrorResponse aside): Parse,
 * Bind, Close, Describe and Execute each get exactly one of these. Execute never sends RowDescription,
 * and Describe('S') sends ParameterDescription first, which is not in the list.
 */
export const COMPLETIONS: readonly number[] = [
  Backend.ParseComplete,
  Backend.BindComplete,
  Backend.CloseComplete,
  Backend.NoData,
  Backend.RowDescription,
  Backend.CommandComplete,
  Backend.EmptyQueryResponse,
  Backend.PortalSuspended,
];

/** Where the NUL ending the C string at `at` is, or -1 if the message ends first. */
export function nulAt(buf: Buffer, at: number, end: number): number {
  const nul = buf.indexOf(0, at);
  return nul < 0 || nul >= end ? -1 : nul;
}

/** Bind: where the statement name starts (after the portal name), or -1 if malformed. */
export function bindStatementStart(buf: Buffer, start: number, end: number): number {
  const portalEnd = nulAt(buf, start + 5, end);
  return portalEnd < 0 ? -1 : portalEnd + 1;
}

/** A Parse or Bind that names a prepared statement (not the unnamed one); reads only the names, so a head will do. */
export function namesStatement(type: number, buf: Buffer, start: number, end: number): boolean {
  const from = type === Frontend.Parse ? start + 5 : type === Frontend.Bind ? bindStatementStart(buf, start, end) : -1;
  return from >= 0 && from < end && buf[from] !== 0;
}

/**
 * The Bind at buf[start, end) is followed in the same buffer by a Describe of the portal it binds: the
 * client asks for the columns again before it reads any row (node-postgres always, pgjdbc at first).
 */
export function describesPortalNext(buf: Buffer, start: number, end: number): boolean {
  if (end + 6 >= buf.length || buf[end] !== Frontend.Describe || buf[end + 5] !== PORTAL_TARGET) return false;
  const portalEnd = nulAt(buf, start + 5, end);
  const describedEnd = nulAt(buf, end + 6, end + 1 + buf.readInt32BE(end + 1));
  if (portalEnd < 0 || describedEnd < 0 || describedEnd - (end + 6) !== portalEnd - (start + 5)) return false;
  return buf.compare(buf, start + 5, portalEnd, end + 6, describedEnd) === 0;
}

/** Describe('S', name) of a statement Sluice prepared. */
export function describeStatement(name: Buffer): Buffer {
  const out = Buffer.allocUnsafe(7 + name.length);
  out[0] = Frontend.Describe;
  out.writeInt32BE(6 + name.length, 1);
  out[5] = STATEMENT_TARGET;
  name.copy(out, 6);
  out[6 + name.length] = 0;
  return out;
}

/** A copy of the frame buf[start, end) with the bytes [from, to) replaced by `name`, its length fixed. */
export function withName(buf: Buffer, start: number, end: number, from: number, to: number, name: Buffer): Buffer {
  const out = Buffer.allocUnsafe(end - start - (to - from) + name.length);
  let at = buf.copy(out, 0, start, from);
  at += name.copy(out, at);
  buf.copy(out, at, to, end);
  out.writeInt32BE(out.length - 1, 1);
  return out;
}

/** Close('S', name): drops a statement on the server; not an error if it does not exist. */
export function closeStatement(name: string): Buffer {
  const n = Buffer.byteLength(name);
  const out = Buffer.allocUnsafe(7 + n);
  out[0] = Frontend.Close;
  out.writeInt32BE(6 + n, 1);
  out[5] = STATEMENT_TARGET;
  out.write(name, 6);
  out[6 + n] = 0;
  return out;
}

function bare(type: number, body: Buffer): Buffer {
  const out = Buffer.allocUnsafe(5 + body.length);
  out[0] = type;
  out.writeInt32BE(4 + body.length, 1);
  body.copy(out, 5);
  return out;
}

export const Sync = bare(Frontend.Sync, Buffer.alloc(0));
/** Asks the server to send what it has answered so far, without ending the pipeline. */
export const Flush = bare(Frontend.Flush, Buffer.alloc(0));
/**
 * A request that always fails: Describe of a statement no one can have prepared (Sluice's own names
 * are longer). Sent where Sluice itself must answer with an error, so that the server aborts the
 * transaction and skips to Sync exactly as it would have for the client's real mistake.
 */
export const FailingDescribe = bare(Frontend.Describe, Buffer.from('Ssluice_\0'));

/** True if the SQL at buf[at, end) is DISCARD ALL or DEALLOCATE [PREPARE] ALL, which drop every prepared statement. */
export function dropsAllStatements(buf: Buffer, at: number, end: number): boolean {
  while (at < end && (buf[at] === 0x20 || (buf[at] >= 0x09 && buf[at] <= 0x0d))) at++;
  // Cheap reject first: nearly every statement fails this one byte test.
  if (at >= end || (buf[at] | 0x20) !== 0x64 /* d */) return false;
  const head = buf.toString('latin1', at, Math.min(end, at + 40));
  return /^(discard\s+all|deallocate\s+(prepare\s+)?all)\s*(;|$)/i.test(head.replace(/\0.*$/s, ''));
}
