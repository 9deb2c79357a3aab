// Tests for MD5 password authentication: stored secrets, client responses, verification, pg interop.
import t from 'tap';
import { createHash } from 'node:crypto';
import { createRequire } from 'node:module';
import { isMd5Secret, md5ClientResponse, md5Hex, md5Secret, verifyMd5Response } from '../../../lib/auth/md5.js';

const salt = Buffer.from([0x01, 0x02, 0xfe, 0xff]);

t.test('md5Hex', async (t) => {
  t.equal(md5Hex('abc'), '900150983cd24fb0d6963f7d28e17f72', 'RFC 1321 vector');
  t.equal(md5Hex('a', Buffer.from('b'), 'c'), md5Hex('abc'), 'parts are concatenated');
  t.equal(md5Hex(), 'd41d8cd98f00b204e9800998ecf8427e', 'no parts hashes the empty string');
});

t.test('md5Secret', async (t) => {
  t.equal(md5Secret('postgres', 'postgres'), 'md53175bce1d3201d16594cebf9d7eb3f9d');
  t.ok(isMd5Secret(md5Secret('u', 'p')));
  t.notOk(isMd5Secret('md5xyz'));
});

t.test('md5ClientResponse', async (t) => {
  const expected = `md5${createHash('md5').update('3175bce1d3201d16594cebf9d7eb3f9d').update(salt).digest('hex')}`;
  t.equal(md5ClientResponse('postgres', 'postgres', salt), expected, 'from the plaintext password');
  t.equal(md5ClientResponse('postgres', 'md53175bce1d3201d16594cebf9d7eb3f9d', salt), expected, 'from the stored secret');
  t.equal(md5ClientResponse('postgres', 'MD53175BCE1D3201D16594CEBF9D7EB3F9D', salt), expected, 'hex case does not matter');
  t.not(md5ClientResponse('postgres', 'postgres', Buffer.from([1, 2, 3, 4])), expected, 'salt matters');

  const require = createRequire(import.meta.url);
  const utils = require('pg/lib/crypto/utils.js') as {
    postgresMd5PasswordHash(user: string, password: string, salt: Buffer): Promise<string>;
  };
  t.equal(
    await utils.postgresMd5PasswordHash('alice', 'wonder land', salt),
    md5ClientResponse('alice', 'wonder land', salt),
    'matches the pg driver',
  );
});

t.test('verifyMd5Response', async (t) => {
  const response = md5ClientResponse('postgres', 'postgres', salt);
  t.equal(verifyMd5Response('postgres', { kind: 'plain', password: 'postgres' }, salt, response), true, 'plain secret');
  t.equal(verifyMd5Response('postgres', { kind: 'md5', hash: md5Secret('postgres', 'postgres') }, salt, response), true, 'md5 secret');
  t.equal(
    verifyMd5Response('postgres', { kind: 'md5', hash: 'MD53175BCE1D3201D16594CEBF9D7EB3F9D' }, salt, response),
    true,
    'upper-case md5 secret',
  );

  const wrong = md5ClientResponse('postgres', 'not-postgres', salt);
  t.equal(verifyMd5Response('postgres', { kind: 'plain', password: 'postgres' }, salt, wrong), false, 'wrong password');
  t.equal(verifyMd5Response('other', { kind: 'plain', password: 'postgres' }, salt, response), false, 'user is salted in');
  t.equal(verifyMd5Response('postgres', { kind: 'plain', password: 'postgres' }, Buffer.from([9, 9, 9, 9]), response), false, 'wrong salt');
  t.equal(verifyMd5Response('postgres', { kind: 'plain', password: 'postgres' }, salt, response.slice(0, 20)), false, 'truncated response');
  t.equal(verifyMd5Response('postgres', { kind: 'plain', password: 'postgres' }, salt, `${response}x`), false, 'overlong response');
  t.equal(verifyMd5Response('postgres', { kind: 'plain', password: 'postgres' }, salt, ''), false, 'empty response');
  t.equal(verifyMd5Response('postgres', { kind: 'md5', hash: 'md5nothex' }, salt, response), false, 'malformed md5 secret');

  const plainLooksLikeMd5 = md5Secret('postgres', 'postgres');
  const fromPlaintext = `md5${md5Hex(md5Hex(plainLooksLikeMd5, 'postgres'), salt)}`;
  t.equal(
    verifyMd5Response('postgres', { kind: 'plain', password: plainLooksLikeMd5 }, salt, fromPlaintext),
    true,
    'a plain secret is always hashed as plaintext',
  );

  const scram = {
    kind: 'scram' as const,
    iterations: 4096,
    salt: Buffer.alloc(16),
    storedKey: Buffer.alloc(32),
    serverKey: Buffer.alloc(32),
  };
  t.equal(verifyMd5Response('postgres', scram, salt, response), false, 'scram secret cannot verify md5');
});
