// Owns PgBouncer's userlist.txt format and the classification of one stored secret (plain, md5, SCRAM).
import type { UserSecret } from './types.js';

/** A userlist.txt that could not be read; `problems` holds one `line N: reason` per bad line. */
export class UserlistError extends Error {
  readonly problems: string[];

  constructor(problems: string[]) {
    super(problems.join('\n'));
    this.name = 'UserlistError';
    this.problems = problems;
  }
}

const MD5_SECRET = /^md5[0-9a-f]{32}$/i;
const SCRAM_PREFIX = 'SCRAM-SHA-256$';
// SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>, as Postgres stores it in pg_authid.
const SCRAM_SECRET = /^SCRAM-SHA-256\$([^:$]*):([^$]*)\$([^:]*):(.*)$/;
const STRICT_BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
const SHA256_BYTES = 32;
const MAX_ITERATIONS = 2 ** 31 - 1;

/**
 * Classify one secret string: "md5"+32 hex → md5, "SCRAM-SHA-256$iter:salt$stored:server" → scram,
 * anything else → plain. Throws on a malformed SCRAM secret; messages never contain the secret.
 */
export function parseSecret(secret: string): UserSecret {
  if (MD5_SECRET.test(secret)) {
    return hideSecretFields({ kind: 'md5', hash: secret.toLowerCase() }, ['hash']);
  }
  if (secret.startsWith(SCRAM_PREFIX)) return parseScramSecret(secret);
  return hideSecretFields({ kind: 'plain', password: secret }, ['password']);
}

function parseScramSecret(secret: string): UserSecret {
  const parts = SCRAM_SECRET.exec(secret);
  if (!parts) {
    throw new Error('malformed SCRAM-SHA-256 secret: expected SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>');
  }
  const [, iterText, saltText, storedText, serverText] = parts as unknown as [string, string, string, string, string];
  const iterations = /^[0-9]+$/.test(iterText) ? Number(iterText) : NaN;
  if (!Number.isSafeInteger(iterations) || iterations < 1 || iterations > MAX_ITERATIONS) {
    throw new Error(`malformed SCRAM-SHA-256 secret: iterations must be an integer 1-${MAX_ITERATIONS}`);
  }
  const salt = decodeBase64(saltText, 'salt');
  if (salt.length === 0) throw new Error('malformed SCRAM-SHA-256 secret: salt is empty');
  const storedKey = decodeKey(storedText, 'StoredKey');
  const serverKey = decodeKey(serverText, 'ServerKey');
  return hideSecretFields({ kind: 'scram', iterations, salt, storedKey, serverKey }, ['salt', 'storedKey', 'serverKey']);
}

function decodeBase64(text: string, field: string): Buffer {
  // Buffer.from(…, 'base64') silently skips junk; a typo must not become a different key.
  if (!STRICT_BASE64.test(text)) throw new Error(`malformed SCRAM-SHA-256 secret: ${field} is not valid base64`);
  return Buffer.from(text, 'base64');
}

function decodeKey(text: string, field: string): Buffer {
  const key = decodeBase64(text, field);
  if (key.length !== SHA256_BYTES) {
    throw new Error(`malformed SCRAM-SHA-256 secret: ${field} must be ${SHA256_BYTES} bytes, got ${key.length}`);
  }
  return key;
}

/**
 * Make the named fields non-enumerable and freeze the object, so that JSON.stringify, util.inspect
 * and object spread in a log line show only `kind` (and SCRAM's iteration count), never the secret.
 */
function hideSecretFields<T extends UserSecret>(secret: T, fields: readonly (keyof T & string)[]): T {
  for (const field of fields) {
    Object.defineProperty(secret, field, { value: secret[field], enumerable: false, writable: false });
  }
  return Object.freeze(secret);
}

/**
 * PgBouncer userlist.txt: lines `"user" "secret"`, `""` escapes a quote inside, `;`/`#` comments and
 * blank lines ignored, anything after the secret ignored (as PgBouncer does). A user with an empty
 * secret is left out: it has no password, so it can only log in under `auth_type: trust`.
 * Throws UserlistError naming every bad line.
 */
export function parseUserlist(text: string): Map<string, UserSecret> {
  const secrets = new Map<string, UserSecret>();
  const firstSeen = new Map<string, number>();
  const problems: string[] = [];
  text.split(/\r?\n/).forEach((line, index) => {
    const lineNo = index + 1;
    try {
      const entry = parseUserlistLine(line);
      if (!entry) return;
      const earlier = firstSeen.get(entry.user);
      if (earlier !== undefined) throw new Error(`duplicate user ${JSON.stringify(entry.user)} (first on line ${earlier})`);
      firstSeen.set(entry.user, lineNo);
      if (entry.secret !== '') secrets.set(entry.user, parseSecret(entry.secret));
    } catch (err) {
      problems.push(`line ${lineNo}: ${(err as Error).message}`);
    }
  });
  if (problems.length > 0) throw new UserlistError(problems);
  return secrets;
}

/** One line → its user and secret, or undefined for a blank or comment line. */
function parseUserlistLine(line: string): { user: string; secret: string } | undefined {
  const start = skipSpaces(line, 0);
  if (start === line.length || line[start] === ';' || line[start] === '#') return undefined;
  const user = readQuoted(line, start, 'user name');
  const secret = readQuoted(line, skipSpaces(line, user.end), 'secret');
  if (user.value === '') throw new Error('empty user name');
  return { user: user.value, secret: secret.value };
}

function skipSpaces(line: string, from: number): number {
  let i = from;
  while (i < line.length && (line[i] === ' ' || line[i] === '\t')) i++;
  return i;
}

/** Read a `"…"` field starting at `from`, where `""` stands for one quote. */
function readQuoted(line: string, from: number, what: string): { value: string; end: number } {
  if (line[from] !== '"') throw new Error(`expected a quoted ${what}: lines look like "user" "secret"`);
  let value = '';
  let i = from + 1;
  while (i < line.length) {
    const quote = line.indexOf('"', i);
    if (quote === -1) break;
    value += line.slice(i, quote);
    if (line[quote + 1] !== '"') return { value, end: quote + 1 };
    value += '"';
    i = quote + 2;
  }
  throw new Error(`unterminated quoted ${what}`);
}
