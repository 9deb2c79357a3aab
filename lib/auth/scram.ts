// SCRAM-SHA-256 (RFC 5802 / RFC 7677) as PostgreSQL speaks it: verifiers, SASLprep, server and client sessions.
import { createHash, createHmac, pbkdf2Sync, randomBytes, timingSafeEqual } from 'node:crypto';
import type { UserSecret } from '../config/types.js';

export type ScramSecret = Extract<UserSecret, { kind: 'scram' }>;
/**
 * Produces a nonce. Bytes are base64-encoded (as PostgreSQL and libpq do); a string is used
 * verbatim, which lets tests replay published vectors whose nonces are not base64.
 */
export type NonceSource = () => Buffer | string;
/** Password, or keys captured by ScramServerSession for passthrough; `user` only fills the ignored `n=`. */
export type ScramClientCredential = ({ password: string } | { clientKey: Buffer; serverKey: Buffer }) & {
  user?: string;
};

/** The only mechanism Sluice offers/selects: no channel binding, so never SCRAM-SHA-256-PLUS. */
export const SCRAM_MECHANISM = 'SCRAM-SHA-256';
export const SCRAM_DEFAULT_ITERATIONS = 4096;
const SALT_BYTES = 16;
const NONCE_BYTES = 18; // what PostgreSQL and libpq generate
const KEY_BYTES = 32;
const MAX_ITERATIONS = 0x7fffffff; // node's PBKDF2 limit; beyond it pbkdf2Sync throws a RangeError
const CLIENT_GS2_HEADER = 'n,,';
const PRINTABLE = /^[\x21-\x2b\x2d-\x7e]+$/; // RFC 5802 "printable": visible ASCII except ','
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

export class ScramError extends Error {
  override name = 'ScramError';
}

// ---------------------------------------------------------------- SASLprep

const NON_ASCII_SPACE = /[\u00A0\u1680\u2000-\u200B\u202F\u205F\u3000]/g; // RFC 3454 C.1.2 → U+0020
// biome-ignore lint/suspicious/noMisleadingCharacterClass: RFC 3454 B.1 lists these joiners and variation selectors one by one.
const MAPPED_TO_NOTHING = /[\u00AD\u034F\u1806\u180B-\u180D\u200C\u200D\u2060\uFE00-\uFE0F\uFEFF]/g; // B.1
/** RFC 3454 tables C.2–C.9 as code point ranges (noncharacters U+xFFFE/F are checked separately). */
const PROHIBITED_RANGES: readonly (readonly [number, number])[] = [
  [0x0000, 0x001f],
  [0x007f, 0x009f],
  [0x0340, 0x0341],
  [0x06dd, 0x06dd],
  [0x070f, 0x070f],
  [0x180e, 0x180e],
  [0x200c, 0x200f],
  [0x2028, 0x202e],
  [0x2060, 0x2063],
  [0x206a, 0x206f],
  [0x2ff0, 0x2ffb],
  [0xd800, 0xdfff],
  [0xe000, 0xf8ff],
  [0xfdd0, 0xfdef],
  [0xfeff, 0xfeff],
  [0xfff9, 0xfffd],
  [0x1d173, 0x1d17a],
  [0xe0001, 0xe0001],
  [0xe0020, 0xe007f],
  [0xf0000, 0xffffd],
  [0x100000, 0x10fffd],
];

function isProhibited(codePoint: number): boolean {
  if ((codePoint & 0xfffe) === 0xfffe) return true;
  return PROHIBITED_RANGES.some(([lo, hi]) => codePoint >= lo && codePoint <= hi);
}

/**
 * SASLprep (RFC 4013) the way PostgreSQL's pg_saslprep uses it: pure ASCII passes unchanged, and a
 * password that SASLprep rejects is used raw rather than refused. Simplification: we map (C.1.2, B.1),
 * NFKC-normalise and check the prohibited tables, but skip the unassigned-code-point (A.1) and bidi
 * checks; those only decide "prepared vs raw" for exotic passwords, so a mismatch is a rare login
 * failure for such a password, never a security issue.
 */
export function saslprep(password: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: the whole ASCII range, controls included, needs no SASLprep.
  if (/^[\x00-\x7f]*$/.test(password)) return password;
  const prepared = password.replace(NON_ASCII_SPACE, ' ').replace(MAPPED_TO_NOTHING, '').normalize('NFKC');
  for (const char of prepared) {
    if (isProhibited(char.codePointAt(0) ?? 0)) return password;
  }
  return prepared;
}

// ---------------------------------------------------------------- primitives

function hmac(key: Buffer, data: string): Buffer {
  return createHmac('sha256', key).update(data, 'utf8').digest();
}

function sha256(data: Buffer): Buffer {
  return createHash('sha256').update(data).digest();
}

function xor(a: Buffer, b: Buffer): Buffer {
  const out = Buffer.alloc(a.length);
  for (let i = 0; i < a.length; i++) out[i] = a[i] ^ b[i];
  return out;
}

function saltedKeys(password: string, salt: Buffer, iterations: number): { clientKey: Buffer; serverKey: Buffer } {
  const salted = pbkdf2Sync(saslprep(password), salt, iterations, KEY_BYTES, 'sha256');
  return { clientKey: hmac(salted, 'Client Key'), serverKey: hmac(salted, 'Server Key') };
}

function requireString(msg: unknown, what: string): asserts msg is string {
  if (typeof msg !== 'string') throw new ScramError(`${what} must be a string`);
}

function decodeBase64(value: string, what: string): Buffer {
  if (!BASE64.test(value)) throw new ScramError(`malformed SCRAM message: ${what} is not valid base64`);
  return Buffer.from(value, 'base64');
}

function makeNonce(source: NonceSource): string {
  const raw = source();
  const nonce = typeof raw === 'string' ? raw : Buffer.from(raw).toString('base64');
  if (!PRINTABLE.test(nonce)) throw new ScramError('nonce source produced an empty or non-printable nonce');
  return nonce;
}

function defaultNonce(): Buffer {
  return randomBytes(NONCE_BYTES);
}

/** Reads `x=value` attributes in order; PostgreSQL fixes the order, so callers name what they expect. */
class AttrReader {
  private pos = 0;
  constructor(
    private readonly msg: string,
    private readonly what: string,
  ) {}

  get done(): boolean {
    return this.pos >= this.msg.length;
  }

  read(expected?: string): { name: string; value: string; start: number } {
    const start = this.pos;
    const name = this.msg[start] ?? '';
    if (!/^[A-Za-z]$/.test(name) || this.msg[start + 1] !== '=') {
      throw new ScramError(`malformed SCRAM message: attribute expected in ${this.what}`);
    }
    if (expected !== undefined && name !== expected) {
      throw new ScramError(`malformed SCRAM message: expected "${expected}=" in ${this.what}, got "${name}="`);
    }
    const comma = this.msg.indexOf(',', start + 2);
    const end = comma === -1 ? this.msg.length : comma;
    this.pos = comma === -1 ? this.msg.length : comma + 1;
    return { name, value: this.msg.slice(start + 2, end), start };
  }

  expectEnd(): void {
    if (!this.done) throw new ScramError(`malformed SCRAM message: garbage at end of ${this.what}`);
  }
}

// ---------------------------------------------------------------- verifiers

/** A SCRAM verifier for a password, as CREATE ROLE ... PASSWORD would store it. */
export function scramSecretFromPassword(
  password: string,
  salt: Buffer = randomBytes(SALT_BYTES),
  iterations: number = SCRAM_DEFAULT_ITERATIONS,
): ScramSecret {
  if (!Number.isInteger(iterations) || iterations < 1 || iterations > MAX_ITERATIONS) {
    throw new ScramError(`invalid SCRAM iteration count ${iterations}`);
  }
  const { clientKey, serverKey } = saltedKeys(password, salt, iterations);
  return { kind: 'scram', iterations, salt: Buffer.from(salt), storedKey: sha256(clientKey), serverKey };
}

/**
 * A deterministic fake verifier for unknown users (PostgreSQL's "mock" authentication): the same user
 * always gets the same salt, so probing cannot tell an unknown user from a wrong password, and no
 * ClientKey hashes to the HMAC-derived StoredKey, so the exchange always fails.
 */
export function mockScramSecret(user: string, key: Buffer): ScramSecret {
  const derive = (label: string): Buffer => createHmac('sha256', key).update(`${label}\0${user}`, 'utf8').digest();
  return {
    kind: 'scram',
    iterations: SCRAM_DEFAULT_ITERATIONS,
    salt: Buffer.from(derive('salt').subarray(0, SALT_BYTES)),
    storedKey: derive('stored-key'),
    serverKey: derive('server-key'),
  };
}

function toScramSecret(secret: UserSecret): ScramSecret {
  if (secret.kind === 'plain') return scramSecretFromPassword(secret.password);
  if (secret.kind !== 'scram') {
    throw new ScramError('an md5 secret cannot verify SCRAM; use mockScramSecret for a doomed exchange');
  }
  const { iterations, salt, storedKey, serverKey } = secret;
  const validKeys = storedKey?.length === KEY_BYTES && serverKey?.length === KEY_BYTES;
  if (!Number.isInteger(iterations) || iterations < 1 || !Buffer.isBuffer(salt) || !validKeys) {
    throw new ScramError('malformed SCRAM secret');
  }
  return secret;
}

// ---------------------------------------------------------------- server side

interface ClientFirst {
  gs2Header: string;
  bare: string;
  clientNonce: string;
}

/** Mirrors read_client_first_message in PostgreSQL's auth-scram.c. */
function parseClientFirst(msg: string): ClientFirst {
  requireString(msg, 'client-first-message');
  const flag = msg[0];
  if (flag === 'p') {
    throw new ScramError('client requires channel binding (SCRAM-SHA-256-PLUS), which is not offered');
  }
  if (flag !== 'n' && flag !== 'y') throw new ScramError('malformed SCRAM message: unexpected channel-binding flag');
  if (msg[1] !== ',') throw new ScramError('malformed SCRAM message: comma expected after channel-binding flag');
  if (msg[2] === 'a') throw new ScramError('client uses authorization identity, but it is not supported');
  if (msg[2] !== ',') throw new ScramError('malformed SCRAM message: unexpected attribute in gs2 header');
  const bare = msg.slice(3);
  if (bare[0] === 'm') throw new ScramError('client requires an unsupported SCRAM extension');
  const reader = new AttrReader(bare, 'client-first-message');
  reader.read('n'); // PostgreSQL ignores this: the user comes from the startup packet
  const clientNonce = reader.read('r').value;
  if (!PRINTABLE.test(clientNonce)) throw new ScramError('malformed SCRAM message: non-printable or empty nonce');
  while (!reader.done) reader.read(); // optional extensions are ignored
  return { gs2Header: msg.slice(0, 3), bare, clientNonce };
}

interface ClientFinal {
  channelBinding: Buffer;
  nonce: string;
  proof: Buffer;
  withoutProof: string;
}

/** Mirrors read_client_final_message in PostgreSQL's auth-scram.c. */
function parseClientFinal(msg: string): ClientFinal {
  requireString(msg, 'client-final-message');
  const reader = new AttrReader(msg, 'client-final-message');
  const channelBinding = decodeBase64(reader.read('c').value, 'channel binding');
  const nonce = reader.read('r').value;
  let attr = reader.read();
  while (attr.name !== 'p') {
    if (reader.done) throw new ScramError('malformed SCRAM message: client proof missing');
    attr = reader.read();
  }
  const proof = decodeBase64(attr.value, 'client proof');
  if (proof.length !== KEY_BYTES) throw new ScramError('malformed SCRAM message: client proof has the wrong length');
  reader.expectEnd();
  return { channelBinding, nonce, proof, withoutProof: msg.slice(0, attr.start - 1) };
}

export interface ScramServerResult {
  ok: boolean;
  /** "v=<ServerSignature>", only when ok. */
  serverFinal?: string;
  /** ClientKey recovered from the proof, only when ok: lets Sluice log in to Postgres with the same verifier. */
  clientKey?: Buffer;
}

/** Server side of SCRAM (Sluice authenticating a client). One instance per login attempt. */
export class ScramServerSession {
  private readonly secret: ScramSecret;
  private state: 'initial' | 'awaiting-final' | 'finished' | 'failed' = 'initial';
  private gs2Header = '';
  private nonce = '';
  private clientFirstBare = '';
  private serverFirstMessage = '';

  /** A plain secret is turned into a fresh verifier; an md5 secret throws ScramError. */
  constructor(
    secret: UserSecret,
    private readonly nonceBytes: NonceSource = defaultNonce,
  ) {
    this.secret = toScramSecret(secret);
  }

  clientFirst(msg: string): string {
    this.enter('initial');
    const parsed = parseClientFirst(msg);
    this.gs2Header = parsed.gs2Header;
    this.clientFirstBare = parsed.bare;
    this.nonce = parsed.clientNonce + makeNonce(this.nonceBytes);
    const { salt, iterations } = this.secret;
    this.serverFirstMessage = `r=${this.nonce},s=${salt.toString('base64')},i=${iterations}`;
    this.state = 'awaiting-final';
    return this.serverFirstMessage;
  }

  clientFinal(msg: string): ScramServerResult {
    this.enter('awaiting-final');
    const parsed = parseClientFinal(msg);
    // Without channel binding, c= carries exactly the gs2 header of client-first.
    if (!parsed.channelBinding.equals(Buffer.from(this.gs2Header, 'utf8'))) {
      throw new ScramError('SCRAM channel binding check failed');
    }
    if (parsed.nonce !== this.nonce) throw new ScramError('SCRAM nonce mismatch');
    const authMessage = `${this.clientFirstBare},${this.serverFirstMessage},${parsed.withoutProof}`;
    const clientKey = xor(parsed.proof, hmac(this.secret.storedKey, authMessage));
    const ok = timingSafeEqual(sha256(clientKey), this.secret.storedKey);
    this.state = 'finished';
    if (!ok) return { ok: false };
    const serverSignature = hmac(this.secret.serverKey, authMessage);
    return { ok: true, serverFinal: `v=${serverSignature.toString('base64')}`, clientKey };
  }

  /** Any error ends the session: a SCRAM exchange is never resumed after a bad message. */
  private enter(expected: ScramServerSession['state']): void {
    if (this.state !== expected) throw new ScramError(`SCRAM message out of order (session is ${this.state})`);
    this.state = 'failed';
  }
}

// ---------------------------------------------------------------- client side

/** RFC 5802 saslname escaping; PostgreSQL ignores the value, but it must still be well-formed. */
function saslname(user: string): string {
  return user.replace(/=/g, '=3D').replace(/,/g, '=2C');
}

/** Mirrors read_server_first_message in libpq's fe-auth-scram.c. */
function parseServerFirst(msg: string, clientNonce: string): { nonce: string; salt: Buffer; iterations: number } {
  requireString(msg, 'server-first-message');
  if (msg[0] === 'm') throw new ScramError('server requires an unsupported SCRAM extension');
  const reader = new AttrReader(msg, 'server-first-message');
  const nonce = reader.read('r').value;
  if (!PRINTABLE.test(nonce) || !nonce.startsWith(clientNonce) || nonce.length <= clientNonce.length) {
    throw new ScramError('invalid SCRAM response (nonce mismatch)');
  }
  const salt = decodeBase64(reader.read('s').value, 'salt');
  if (salt.length === 0) throw new ScramError('malformed SCRAM message: empty salt');
  const iterationText = reader.read('i').value;
  const iterations = Number(iterationText);
  if (!/^[0-9]+$/.test(iterationText) || iterations < 1 || iterations > MAX_ITERATIONS) {
    throw new ScramError(`malformed SCRAM message: invalid iteration count "${iterationText}"`);
  }
  reader.expectEnd();
  return { nonce, salt, iterations };
}

/** Client side of SCRAM (Sluice logging in to Postgres). One instance per login attempt. */
export class ScramClientSession {
  private state: 'initial' | 'awaiting-server-first' | 'awaiting-server-final' | 'finished' | 'failed' = 'initial';
  private clientNonce = '';
  private clientFirstBare = '';
  private expectedServerSignature: Buffer = Buffer.alloc(0);

  /** With passthrough keys, the salt and iteration count sent by the server are not needed. */
  constructor(
    private readonly cred: ScramClientCredential,
    private readonly nonceBytes: NonceSource = defaultNonce,
  ) {
    if ('clientKey' in cred && (cred.clientKey?.length !== KEY_BYTES || cred.serverKey?.length !== KEY_BYTES)) {
      throw new ScramError(`SCRAM passthrough keys must be ${KEY_BYTES} bytes`);
    }
  }

  /** client-first-message, e.g. "n,,n=,r=<nonce>". */
  clientFirst(): string {
    this.enter('initial');
    this.clientNonce = makeNonce(this.nonceBytes);
    this.clientFirstBare = `n=${saslname(this.cred.user ?? '')},r=${this.clientNonce}`;
    this.state = 'awaiting-server-first';
    return CLIENT_GS2_HEADER + this.clientFirstBare;
  }

  /** Takes server-first-message, returns client-final-message. */
  serverFirst(msg: string): string {
    this.enter('awaiting-server-first');
    const { nonce, salt, iterations } = parseServerFirst(msg, this.clientNonce);
    const { clientKey, serverKey } = 'clientKey' in this.cred ? this.cred : saltedKeys(this.cred.password, salt, iterations);
    const withoutProof = `c=${Buffer.from(CLIENT_GS2_HEADER).toString('base64')},r=${nonce}`;
    const authMessage = `${this.clientFirstBare},${msg},${withoutProof}`;
    const proof = xor(clientKey, hmac(sha256(clientKey), authMessage));
    this.expectedServerSignature = hmac(serverKey, authMessage);
    this.state = 'awaiting-server-final';
    return `${withoutProof},p=${proof.toString('base64')}`;
  }

  /** Verifies server-final-message: the server must prove it knows the verifier too (mutual auth). */
  serverFinal(msg: string): void {
    this.enter('awaiting-server-final');
    requireString(msg, 'server-final-message');
    if (msg.startsWith('e=')) throw new ScramError(`error received from server in SCRAM exchange: ${msg.slice(2)}`);
    const reader = new AttrReader(msg, 'server-final-message');
    const signature = decodeBase64(reader.read('v').value, 'server signature');
    reader.expectEnd();
    if (signature.length !== KEY_BYTES || !timingSafeEqual(signature, this.expectedServerSignature)) {
      throw new ScramError('incorrect server signature');
    }
    this.state = 'finished';
  }

  private enter(expected: ScramClientSession['state']): void {
    if (this.state !== expected) throw new ScramError(`SCRAM message out of order (session is ${this.state})`);
    this.state = 'failed';
  }
}
