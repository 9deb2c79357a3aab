// Builders for the backend messages the pooler itself sends to clients; constant frames are built once.
import { AuthCode, Backend, TxStatus } from './codes.js';

/** A message with a type byte, a length, and a body written by fill(). */
function frame(type: number, bodyLength: number, fill: (b: Buffer, at: number) => void): Buffer {
  const b = Buffer.allocUnsafe(5 + bodyLength);
  b[0] = type;
  b.writeInt32BE(4 + bodyLength, 1);
  fill(b, 5);
  return b;
}

function int32Frame(type: number, value: number): Buffer {
  return frame(type, 4, (b, at) => b.writeInt32BE(value, at));
}

export const AuthenticationOk = int32Frame(Backend.Authentication, AuthCode.Ok);
export const AuthenticationCleartextPassword = int32Frame(Backend.Authentication, AuthCode.CleartextPassword);
export const ReadyForQueryIdle = frame(Backend.ReadyForQuery, 1, (b, at) => void (b[at] = TxStatus.Idle));
export const EmptyQueryResponse = frame(Backend.EmptyQueryResponse, 0, () => undefined);
/** Answers to a Parse or Close that Sluice handled without the server (prepared statements). */
export const ParseComplete = frame(Backend.ParseComplete, 0, () => undefined);
export const CloseComplete = frame(Backend.CloseComplete, 0, () => undefined);
/** The single-byte answers to SSLRequest and GSSENCRequest. */
export const SSLAccept = Buffer.from('S');
export const SSLRefuse = Buffer.from('N');

export function readyForQuery(status: number): Buffer {
  return status === TxStatus.Idle ? ReadyForQueryIdle : frame(Backend.ReadyForQuery, 1, (b, at) => void (b[at] = status));
}

export function authenticationMD5Password(salt: Buffer): Buffer {
  return frame(Backend.Authentication, 8, (b, at) => {
    b.writeInt32BE(AuthCode.MD5Password, at);
    salt.copy(b, at + 4, 0, 4);
  });
}

export function authenticationSASL(mechanisms: readonly string[]): Buffer {
  const names = mechanisms.map((m) => Buffer.from(`${m}\0`));
  const len = 4 + names.reduce((n, m) => n + m.length, 0) + 1;
  return frame(Backend.Authentication, len, (b, at) => {
    b.writeInt32BE(AuthCode.SASL, at);
    let p = at + 4;
    for (const m of names) p += m.copy(b, p);
    b[p] = 0;
  });
}

function authData(code: AuthCode, data: string): Buffer {
  const d = Buffer.from(data);
  return frame(Backend.Authentication, 4 + d.length, (b, at) => {
    b.writeInt32BE(code, at);
    d.copy(b, at + 4);
  });
}

export const authenticationSASLContinue = (data: string): Buffer => authData(AuthCode.SASLContinue, data);
export const authenticationSASLFinal = (data: string): Buffer => authData(AuthCode.SASLFinal, data);

export function parameterStatus(name: string, value: string): Buffer {
  const n = Buffer.byteLength(name);
  const v = Buffer.byteLength(value);
  return frame(Backend.ParameterStatus, n + v + 2, (b, at) => {
    b.write(name, at);
    b[at + n] = 0;
    b.write(value, at + n + 1);
    b[at + n + 1 + v] = 0;
  });
}

export function backendKeyData(pid: number, secret: number): Buffer {
  return frame(Backend.BackendKeyData, 8, (b, at) => {
    b.writeInt32BE(pid, at);
    b.writeInt32BE(secret, at + 4);
  });
}

export interface ErrorFields {
  severity: 'FATAL' | 'ERROR' | 'WARNING' | 'NOTICE' | 'LOG' | 'INFO';
  sqlstate: string;
  message: string;
  detail?: string;
  hint?: string;
  /** The R field: the Postgres routine that raised it, which some drivers act on. */
  routine?: string;
}

/** ErrorResponse, or NoticeResponse when notice is true: S, V, C, M, D, H, R fields. */
export function errorResponse(f: ErrorFields, notice = false): Buffer {
  const parts: Array<[string, string]> = [
    ['S', f.severity],
    ['V', f.severity],
    ['C', f.sqlstate],
    ['M', f.message],
  ];
  if (f.detail) parts.push(['D', f.detail]);
  if (f.hint) parts.push(['H', f.hint]);
  if (f.routine) parts.push(['R', f.routine]);
  const bodies = parts.map(([k, v]) => Buffer.from(`${k + v}\0`));
  const len = bodies.reduce((n, p) => n + p.length, 0) + 1;
  return frame(notice ? Backend.NoticeResponse : Backend.ErrorResponse, len, (b, at) => {
    let p = at;
    for (const x of bodies) p += x.copy(b, p);
    b[p] = 0;
  });
}

/** RowDescription for text columns (admin console results). */
export function rowDescription(columns: readonly { name: string; typeOid: number }[]): Buffer {
  const names = columns.map((c) => Buffer.from(`${c.name}\0`));
  const len = 2 + names.reduce((n, x) => n + x.length + 18, 0);
  return frame(Backend.RowDescription, len, (b, at) => {
    b.writeInt16BE(columns.length, at);
    let p = at + 2;
    columns.forEach((c, i) => {
      p += names[i].copy(b, p);
      b.writeInt32BE(0, p); // table oid
      b.writeInt16BE(0, p + 4); // column attribute number
      b.writeInt32BE(c.typeOid, p + 6);
      b.writeInt16BE(-1, p + 10); // type size: variable
      b.writeInt32BE(-1, p + 12); // type modifier
      b.writeInt16BE(0, p + 16); // text format
      p += 18;
    });
  });
}

/** DataRow of text values; null becomes SQL NULL. */
export function dataRow(values: readonly (string | null)[]): Buffer {
  const cells = values.map((v) => (v === null ? null : Buffer.from(v)));
  const len = 2 + cells.reduce((n, c) => n + 4 + (c ? c.length : 0), 0);
  return frame(Backend.DataRow, len, (b, at) => {
    b.writeInt16BE(cells.length, at);
    let p = at + 2;
    for (const c of cells) {
      b.writeInt32BE(c ? c.length : -1, p);
      p += 4;
      if (c) p += c.copy(b, p);
    }
  });
}

export function commandComplete(tag: string): Buffer {
  const t = Buffer.from(`${tag}\0`);
  return frame(Backend.CommandComplete, t.length, (b, at) => void t.copy(b, at));
}

/** NegotiateProtocolVersion: the newest minor version we speak and the options we did not recognise. */
export function negotiateProtocolVersion(minor: number, unrecognised: readonly string[]): Buffer {
  const opts = unrecognised.map((o) => Buffer.from(`${o}\0`));
  const len = 8 + opts.reduce((n, o) => n + o.length, 0);
  return frame(Backend.NegotiateProtocolVersion, len, (b, at) => {
    b.writeInt32BE(minor, at);
    b.writeInt32BE(opts.length, at + 4);
    let p = at + 8;
    for (const o of opts) p += o.copy(b, p);
  });
}
