// MD5 password authentication as PostgreSQL speaks it: stored secrets, client responses, verification.
import { createHash, timingSafeEqual } from 'node:crypto';
import type { UserSecret } from '../config/types.js';

const MD5_SECRET = /^md5[0-9a-f]{32}$/i;
/** "md5" + 32 hex digits: the length of both a stored secret and a PasswordMessage response. */
const MD5_TOKEN_LENGTH = 35;

export function md5Hex(...parts: (string | Buffer)[]): string {
  const hash = createHash('md5');
  for (const part of parts) hash.update(part);
  return hash.digest('hex');
}

/** Whether a string has the shape of a stored md5 secret ("md5" + 32 hex digits). */
export function isMd5Secret(value: string): boolean {
  return MD5_SECRET.test(value);
}

/** "md5" + md5(password + user) — the stored form. */
export function md5Secret(user: string, password: string): string {
  return `md5${md5Hex(password, user)}`;
}

/** The response for a known stored secret; lower-cased because the hex digits are hashed as text. */
function responseFromSecret(storedSecret: string, salt: Buffer): string {
  return `md5${md5Hex(storedSecret.slice(3).toLowerCase(), salt)}`;
}

/**
 * What a client sends in PasswordMessage for md5 auth: "md5" + md5(md5hex(password+user) + salt).
 * Accepts the plaintext password or an already-stored "md5..." secret, so a stored md5 secret can log
 * in to a server without the plaintext (as PgBouncer does). Like PgBouncer and PostgreSQL's own
 * CREATE ROLE, a plaintext password that happens to look like an md5 secret is treated as one.
 */
export function md5ClientResponse(user: string, passwordOrMd5Secret: string, salt: Buffer): string {
  const stored = isMd5Secret(passwordOrMd5Secret) ? passwordOrMd5Secret : md5Secret(user, passwordOrMd5Secret);
  return responseFromSecret(stored, salt);
}

/**
 * Constant-time check of a client's md5 response against a UserSecret.
 * Plain secrets are hashed explicitly (never guessed to be md5-shaped); scram secrets cannot
 * answer an md5 challenge, so they always fail.
 */
export function verifyMd5Response(user: string, secret: UserSecret, salt: Buffer, response: string): boolean {
  let stored: string;
  if (secret.kind === 'plain') stored = md5Secret(user, secret.password);
  else if (secret.kind === 'md5' && isMd5Secret(secret.hash)) stored = secret.hash;
  else return false;
  const expected = Buffer.from(responseFromSecret(stored, salt), 'utf8');
  const actual = Buffer.from(String(response), 'utf8');
  // The response length is public (it is on the wire), so only the content needs constant time.
  if (actual.length !== MD5_TOKEN_LENGTH) return false;
  return timingSafeEqual(expected, actual);
}
