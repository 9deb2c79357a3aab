// Tests for PgBouncer userlist.txt parsing and secret classification.
import t from 'tap';
import fc from 'fast-check';
import { createHash, createHmac, pbkdf2Sync } from 'node:crypto';
import { inspect } from 'node:util';
import { parseSecret, parseUserlist, UserlistError } from '../../../lib/config/userlist.js';
import type { UserSecret } from '../../../lib/config/types.js';

const KEY_A = Buffer.alloc(32, 1).toString('base64');
const KEY_B = Buffer.alloc(32, 2).toString('base64');
const SCRAM = `SCRAM-SHA-256$4096:c2FsdHNhbHQ=$${KEY_A}:${KEY_B}`;

function problemsOf(text: string): string[] {
  try {
    parseUserlist(text);
  } catch (err) {
    if (err instanceof UserlistError) return err.problems;
    throw err;
  }
  throw new Error('expected the userlist to be refused');
}

function plainOf(secret: UserSecret | undefined): string | undefined {
  return secret?.kind === 'plain' ? secret.password : undefined;
}

/** Writes a line the way an operator (or a generator script) would: quotes doubled inside fields. */
function userlistLine(user: string, secret: string): string {
  const quote = (field: string) => `"${field.replaceAll('"', '""')}"`;
  return `${quote(user)} ${quote(secret)}`;
}

t.test('plain, md5 and SCRAM lines, with comments and blank lines', async (t) => {
  const secrets = parseUserlist(
    [
      '; PgBouncer-style comment',
      '# shell-style comment',
      '',
      '   ',
      '"alice" "plain-pw"',
      `  "bob"\t"md5${'0123456789ABCDEF'.repeat(2)}"`,
      `"carol" "${SCRAM}"`,
      '"dave" "pw" "extra fields" are ignored, as in PgBouncer',
    ].join('\r\n'),
  );
  t.same([...secrets.keys()], ['alice', 'bob', 'carol', 'dave']);
  t.equal(plainOf(secrets.get('alice')), 'plain-pw');
  const bob = secrets.get('bob');
  t.equal(bob?.kind === 'md5' && bob.hash, `md5${'0123456789abcdef'.repeat(2)}`, 'md5 hex is normalized to lower case');
  const carol = secrets.get('carol');
  t.equal(carol?.kind, 'scram');
  if (carol?.kind === 'scram') {
    t.equal(carol.iterations, 4096);
    t.equal(carol.salt.toString(), 'saltsalt');
    t.same(carol.storedKey, Buffer.alloc(32, 1));
    t.same(carol.serverKey, Buffer.alloc(32, 2));
  }
  t.equal(plainOf(secrets.get('dave')), 'pw');
});

t.test('doubled quotes stand for one quote', async (t) => {
  const secrets = parseUserlist('"o""brien" "say ""hi"" ; # not a comment"\n"q" """"');
  t.equal(plainOf(secrets.get('o"brien')), 'say "hi" ; # not a comment');
  t.equal(plainOf(secrets.get('q')), '"');
});

t.test('a user with an empty secret is left out', async (t) => {
  const secrets = parseUserlist('"nopw" ""\n"alice" "pw"\n');
  t.same([...secrets.keys()], ['alice']);
});

t.test('every bad line is reported with its line number', async (t) => {
  const problems = problemsOf(
    [
      '"alice" "pw"',
      'alice pw',
      '"bob" "unterminated',
      '"carol"',
      '"" "pw"',
      '"alice" "again"',
      `"erin" "SCRAM-SHA-256$4096:c2FsdA==$${KEY_A}"`,
      '"frank" "o""k',
    ].join('\n'),
  );
  t.same(problems, [
    'line 2: expected a quoted user name: lines look like "user" "secret"',
    'line 3: unterminated quoted secret',
    'line 4: expected a quoted secret: lines look like "user" "secret"',
    'line 5: empty user name',
    'line 6: duplicate user "alice" (first on line 1)',
    'line 7: malformed SCRAM-SHA-256 secret: expected SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>',
    'line 8: unterminated quoted secret',
  ]);
  t.throws(() => parseUserlist('bad'), {
    name: 'UserlistError',
    message: 'line 1: expected a quoted user name: lines look like "user" "secret"',
  });
});

t.test('parseSecret classifies by shape', async (t) => {
  t.equal(parseSecret('hunter2').kind, 'plain');
  t.equal(parseSecret(`md5${'a'.repeat(32)}`).kind, 'md5');
  t.equal(parseSecret(`md5${'a'.repeat(31)}`).kind, 'plain', 'not 32 hex digits: a password that starts with md5');
  t.equal(parseSecret(`md5${'g'.repeat(32)}`).kind, 'plain');
  t.equal(parseSecret(SCRAM).kind, 'scram');
});

t.test('parseSecret refuses malformed SCRAM secrets without echoing them', async (t) => {
  const cases: [string, string][] = [
    [`SCRAM-SHA-256$0:c2FsdA==$${KEY_A}:${KEY_B}`, 'iterations must be an integer 1-2147483647'],
    [`SCRAM-SHA-256$4096.5:c2FsdA==$${KEY_A}:${KEY_B}`, 'iterations must be an integer 1-2147483647'],
    [`SCRAM-SHA-256$4096:$${KEY_A}:${KEY_B}`, 'salt is empty'],
    [`SCRAM-SHA-256$4096:c2F*dA==$${KEY_A}:${KEY_B}`, 'salt is not valid base64'],
    [`SCRAM-SHA-256$4096:c2FsdA==$${KEY_A.slice(0, -4)}:${KEY_B}`, 'StoredKey must be 32 bytes, got 30'],
    [`SCRAM-SHA-256$4096:c2FsdA==$${KEY_A}:${Buffer.alloc(33, 2).toString('base64')}`, 'ServerKey must be 32 bytes, got 33'],
    [`SCRAM-SHA-256$4096:c2FsdA==$${KEY_A}:${KEY_B.slice(1)}`, 'ServerKey is not valid base64'],
    ['SCRAM-SHA-256$4096:c2FsdA==', 'expected SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>'],
  ];
  for (const [secret, reason] of cases) {
    const err = t.throws(() => parseSecret(secret), { message: `malformed SCRAM-SHA-256 secret: ${reason}` }) as Error;
    t.notMatch(err.message, KEY_A.slice(0, 20), 'the message does not contain the key');
  }
});

t.test('SCRAM secrets made the Postgres way decode to the right keys', async (t) => {
  const salt = Buffer.from('0123456789abcdef');
  const salted = pbkdf2Sync('s3cret', salt, 4096, 32, 'sha256');
  const storedKey = createHash('sha256').update(createHmac('sha256', salted).update('Client Key').digest()).digest();
  const serverKey = createHmac('sha256', salted).update('Server Key').digest();
  const secret = parseSecret(
    `SCRAM-SHA-256$4096:${salt.toString('base64')}$${storedKey.toString('base64')}:${serverKey.toString('base64')}`,
  );
  t.same(secret, { kind: 'scram', iterations: 4096 }, 'only kind and iterations are enumerable');
  t.ok(secret.kind === 'scram' && secret.storedKey.equals(storedKey) && secret.serverKey.equals(serverKey) && secret.salt.equals(salt));
});

t.test('secret objects do not leak through JSON.stringify or util.inspect', async (t) => {
  const secrets = parseUserlist(`"a" "Zebra-Quokka-7731"\n"b" "md5${'c'.repeat(32)}"\n"c" "${SCRAM}"\n`);
  for (const shown of [JSON.stringify([...secrets]), inspect(secrets, { depth: 10 }), JSON.stringify({ ...secrets.get('a') })]) {
    t.notMatch(shown, 'Zebra-Quokka-7731');
    t.notMatch(shown, 'c'.repeat(32));
    t.notMatch(shown, KEY_A);
    t.notMatch(shown, KEY_B);
  }
  t.ok(Object.isFrozen(secrets.get('a')));
  t.equal(JSON.stringify(secrets.get('b')), '{"kind":"md5"}');
});

t.test('property: any users and plain passwords survive a write/parse round trip', async (t) => {
  // Fields are single-line; secrets that would classify as md5/SCRAM or be empty are not "plain passwords".
  // Biased toward the characters the format cares about, mixed with arbitrary code points.
  const char = fc.oneof(fc.constantFrom('"', ' ', '\t', ';', '#', 'a'), fc.string({ unit: 'binary', minLength: 1, maxLength: 1 }));
  const field = fc.string({ minLength: 1, maxLength: 30, unit: char }).filter((s) => !/[\r\n]/.test(s));
  const password = field.filter((s) => !/^md5[0-9a-f]{32}$/i.test(s) && !s.startsWith('SCRAM-SHA-256$'));
  const entries = fc.uniqueArray(fc.tuple(field, password), { selector: ([user]) => user, maxLength: 20 });
  const comment = fc.constantFrom('', '; comment', '# "quoted" comment', '   ');
  t.doesNotThrow(() =>
    fc.assert(
      fc.property(entries, comment, (pairs, noise) => {
        const text = pairs.flatMap(([user, secret]) => [noise, userlistLine(user, secret)]).join('\n');
        const parsed = parseUserlist(text);
        return parsed.size === pairs.length && pairs.every(([user, secret]) => plainOf(parsed.get(user)) === secret);
      }),
      { numRuns: 300 },
    ),
  );
});
