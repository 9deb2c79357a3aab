// Decoders for the few messages the pooler must read; everything else stays opaque bytes.

/** Reads a NUL-terminated string at offset; returns it and the offset after the NUL, or null if unterminated. */
export function cstring(buf: Buffer, at: number, end: number): [string, number] | null {
  const nul = buf.indexOf(0, at);
  if (nul < 0 || nul >= end) return null;
  return [buf.toString('utf8', at, nul), nul + 1];
}

export interface StartupPacket {
  major: number;
  minor: number;
  params: Map<string, string>;
}

/** StartupMessage body: int32 version then name/value pairs ending with an empty name. Null if malformed. */
export function decodeStartup(packet: Buffer): StartupPacket | null {
  if (packet.length < 8) return null;
  const version = packet.readInt32BE(4);
  const params = new Map<string, string>();
  let at = 8;
  const end = packet.length;
  while (at < end && packet[at] !== 0) {
    const k = cstring(packet, at, end);
    if (!k) return null;
    const v = cstring(packet, k[1], end);
    if (!v) return null;
    params.set(k[0], v[0]);
    at = v[1];
  }
  if (at >= end) return null;
  return { major: version >>> 16, minor: version & 0xffff, params };
}

/** CancelRequest: pid and secret key. */
export function decodeCancelRequest(packet: Buffer): { pid: number; secret: number } | null {
  if (packet.length !== 16) return null;
  return { pid: packet.readInt32BE(8), secret: packet.readInt32BE(12) };
}

/** Query: the SQL text. */
export function decodeQuery(buf: Buffer, start: number, end: number): string | null {
  const s = cstring(buf, start + 5, end);
  return s ? s[0] : null;
}

/** Parse: statement name and SQL text. */
export function decodeParse(buf: Buffer, start: number, end: number): { name: string; query: string } | null {
  const n = cstring(buf, start + 5, end);
  if (!n) return null;
  const q = cstring(buf, n[1], end);
  return q ? { name: n[0], query: q[0] } : null;
}

/** ParameterStatus: name and value. */
export function decodeParameterStatus(buf: Buffer, start: number, end: number): [string, string] | null {
  const n = cstring(buf, start + 5, end);
  if (!n) return null;
  const v = cstring(buf, n[1], end);
  return v ? [n[0], v[0]] : null;
}

export interface NoticeFields {
  severity: string;
  code: string;
  message: string;
  detail?: string;
}

/** ErrorResponse / NoticeResponse: the fields the pooler logs or acts on. */
export function decodeErrorFields(buf: Buffer, start: number, end: number): NoticeFields {
  const f: NoticeFields = { severity: '', code: '', message: '' };
  let at = start + 5;
  while (at < end && buf[at] !== 0) {
    const key = buf[at];
    const s = cstring(buf, at + 1, end);
    if (!s) break;
    if (key === 0x56 /* V */ || (key === 0x53 /* S */ && !f.severity)) f.severity = s[0];
    else if (key === 0x43 /* C */) f.code = s[0];
    else if (key === 0x4d /* M */) f.message = s[0];
    else if (key === 0x44 /* D */) f.detail = s[0];
    at = s[1];
  }
  return f;
}

/** PasswordMessage / SASLResponse body as a string (without the trailing NUL of PasswordMessage). */
export function decodePassword(buf: Buffer, start: number, end: number): string {
  let e = end;
  if (e > start + 5 && buf[e - 1] === 0) e--;
  return buf.toString('utf8', start + 5, e);
}

/** SASLInitialResponse: mechanism name and the initial client response. */
export function decodeSASLInitialResponse(buf: Buffer, start: number, end: number): { mechanism: string; data: string } | null {
  const m = cstring(buf, start + 5, end);
  if (!m || m[1] + 4 > end) return null;
  const len = buf.readInt32BE(m[1]);
  const from = m[1] + 4;
  if (len < 0) return { mechanism: m[0], data: '' };
  if (from + len > end) return null;
  return { mechanism: m[0], data: buf.toString('utf8', from, from + len) };
}
