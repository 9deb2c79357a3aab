// Tests for ClientAuthenticator, driven by a real client side: SCRAM, md5, cleartext and trust, right and wrong.
import t from 'tap';
import fc from 'fast-check';
import { createHash } from 'node:crypto';
import { ClientAuthenticator, type AuthOptions, type AuthStep } from '../../../lib/auth/authenticate.js';
import { md5ClientResponse, md5Secret } from '../../../lib/auth/md5.js';
import { ScramClientSession, scramSecretFromPassword } from '../../../lib/auth/scram.js';
import type { UserSecret } from '../../../lib/config/types.js';
import { message, parseBackend, passwordFrame, saslInitialResponse } from '../../helpers/bytes.js';

const USER = 'alice';
const PASSWORD = 'correct horse';
const mockKey = Buffer.alloc(32, 7);
/** Few iterations keep the tests fast; the count is the verifier's, so the exchange is otherwise real. */
const scramSecret = scramSecretFromPassword(PASSWORD, Buffer.from('0123456789abcdef'), 16);
const SECRETS: Record<'plain' | 'md5' | 'scram', UserSecret> = {
  plain: { kind: 'plain', password: PASSWORD },
  md5: { kind: 'md5', hash: md5Secret(USER, PASSWORD) },
  scram: scramSecret,
};

function auth(o: Partial<AuthOptions>): ClientAuthenticator {
  return new ClientAuthenticator({
    authType: 'scram-sha-256',
    user: USER,
    secret: SECRETS.scram,
    tls: false,
    plainWithoutTls: false,
    mockKey,
    ...o,
  });
}

const feed = (a: ClientAuthenticator, frame: Buffer): AuthStep => a.onPassword(frame, 0, frame.length);

/** The single backend message in a 'send' step, as a Postgres client parses it. */
function sent(step: AuthStep): Record<string, unknown> {
  if (step.kind !== 'send') throw new Error(`expected send, got ${step.kind}`);
  const msgs = parseBackend(step.data);
  if (msgs.length !== 1) throw new Error(`expected one message, got ${msgs.length}`);
  return msgs[0] as unknown as Record<string, unknown>;
}

function failure(step: AuthStep): { code: string; sqlstate: string } {
  if (step.kind !== 'fail') throw new Error(`expected fail, got ${step.kind}`);
  return { code: step.error.code, sqlstate: step.error.sqlstate };
}

const AUTH_FAILED = { code: 'SLUICE_AUTH_FAILED', sqlstate: '28P01' };
const AUTH_PROTOCOL = { code: 'SLUICE_AUTH_PROTOCOL', sqlstate: '08P01' };

/** Runs SCRAM as libpq would; returns the server's steps and the client session. */
function scramLogin(a: ClientAuthenticator, password: string) {
  const offer = sent(a.start());
  const client = new ScramClientSession({ password });
  const cont = feed(a, saslInitialResponse('SCRAM-SHA-256', client.clientFirst()));
  const serverFirst = String(sent(cont).data);
  const done = feed(a, passwordFrame(client.serverFirst(serverFirst)));
  return { offer, serverFirst, done, client };
}

t.test('SCRAM with a scram secret: SASL, SASLContinue, then ok with the final frame and keys', async (t) => {
  const a = auth({});
  t.equal(a.method, 'scram');
  const { offer, serverFirst, done, client } = scramLogin(a, PASSWORD);
  t.match(offer, { name: 'authenticationSASL', mechanisms: ['SCRAM-SHA-256'] });
  t.match(serverFirst, /^r=[^,]+,s=MDEyMzQ1Njc4OWFiY2RlZg==,i=16$/, 'server-first carries the secret salt and count');
  if (done.kind !== 'ok') throw new Error(`expected ok, got ${done.kind}`);
  const final = parseBackend(done.final as Buffer)[0] as unknown as { name: string; data: string };
  t.equal(final.name, 'authenticationSASLFinal');
  t.doesNotThrow(() => client.serverFinal(final.data), 'the client accepts the server signature');
  t.ok(done.scramKeys, 'keys for logging in to Postgres as this user');
  t.same(done.scramKeys?.serverKey, scramSecret.serverKey);
  t.same(
    createHash('sha256')
      .update(done.scramKeys?.clientKey as Buffer)
      .digest(),
    scramSecret.storedKey,
  );
});

t.test('SCRAM with a plain secret succeeds without passthrough keys', async (t) => {
  const { done } = scramLogin(auth({ secret: SECRETS.plain }), PASSWORD);
  t.match(done, { kind: 'ok', scramKeys: undefined });
  t.ok(done.kind === 'ok' && done.final, 'still sends SASLFinal');
});

t.test('SCRAM wrong password and unknown user fail the same way', async (t) => {
  t.same(failure(scramLogin(auth({}), 'wrong').done), AUTH_FAILED, 'wrong password');
  t.same(failure(scramLogin(auth({ secret: SECRETS.plain }), 'wrong').done), AUTH_FAILED, 'wrong password, plain secret');
  const unknown = scramLogin(auth({ user: 'mallory', secret: undefined }), PASSWORD);
  t.match(unknown.offer, { name: 'authenticationSASL' }, 'an unknown user is offered SCRAM too');
  t.match(unknown.serverFirst, /^r=[^,]+,s=[^,]+,i=4096$/, 'and gets a plausible server-first');
  t.same(failure(unknown.done), AUTH_FAILED, 'then the same failure as a wrong password');
  const again = scramLogin(auth({ user: 'mallory', secret: undefined }), PASSWORD);
  t.equal(again.serverFirst.split(',')[1], unknown.serverFirst.split(',')[1], 'the fake salt is stable per user');
});

t.test('md5 with plain and md5 secrets', async (t) => {
  for (const kind of ['plain', 'md5'] as const) {
    for (const [password, ok] of [
      [PASSWORD, true],
      ['wrong', false],
    ] as const) {
      const a = auth({ authType: 'md5', secret: SECRETS[kind] });
      t.equal(a.method, 'md5');
      const req = sent(a.start()) as { name: string; salt: Buffer };
      t.equal(req.name, 'authenticationMD5Password');
      const step = feed(a, passwordFrame(`${md5ClientResponse(USER, password, req.salt)}\0`));
      if (ok) t.same(step, { kind: 'ok' }, `${kind} secret, right password`);
      else t.same(failure(step), AUTH_FAILED, `${kind} secret, wrong password`);
    }
  }
  const a = auth({ authType: 'md5', secret: SECRETS.md5 });
  const req = sent(a.start()) as { salt: Buffer };
  t.same(
    feed(a, passwordFrame(`${md5ClientResponse(USER, md5Secret(USER, PASSWORD), req.salt)}\0`)),
    { kind: 'ok' },
    'a client holding the stored md5 secret logs in (as PgBouncer allows)',
  );
  const unknown = auth({ authType: 'md5', user: 'mallory', secret: undefined });
  const salt = (sent(unknown.start()) as { salt: Buffer }).salt;
  const guess = passwordFrame(`${md5ClientResponse('mallory', PASSWORD, salt)}\0`);
  t.same(failure(feed(unknown, guess)), AUTH_FAILED, 'unknown user');
});

t.test('md5 salts are fresh per attempt', async (t) => {
  const s1 = (sent(auth({ authType: 'md5', secret: SECRETS.md5 }).start()) as { salt: Buffer }).salt;
  const s2 = (sent(auth({ authType: 'md5', secret: SECRETS.md5 }).start()) as { salt: Buffer }).salt;
  t.equal(s1.length, 4);
  t.notSame(s1, s2);
});

t.test('method selection by secret kind', async (t) => {
  t.equal(auth({ authType: 'md5', secret: SECRETS.scram }).method, 'scram', 'md5 auth_type with a scram secret uses SCRAM');
  t.equal(auth({ authType: 'md5', secret: undefined }).method, 'md5', 'unknown users follow auth_type');
  const { done } = scramLogin(auth({ authType: 'md5', secret: SECRETS.scram }), PASSWORD);
  t.equal(done.kind, 'ok', 'and the SCRAM exchange then succeeds');
  const md5Only = auth({ authType: 'scram-sha-256', secret: SECRETS.md5 });
  t.equal(md5Only.method, 'scram', 'under scram-sha-256 everyone does SCRAM');
  t.same(failure(scramLogin(md5Only, PASSWORD).done), AUTH_FAILED, 'so an md5-only secret fails like a wrong password');
});

t.test('cleartext needs TLS unless allowed', async (t) => {
  t.same(failure(auth({ authType: 'plain', tls: false }).start()), { code: 'SLUICE_CLEARTEXT_REFUSED', sqlstate: '28000' });
  t.match(sent(auth({ authType: 'plain', tls: true }).start()), { name: 'authenticationCleartextPassword' });
  t.match(sent(auth({ authType: 'plain', plainWithoutTls: true }).start()), { name: 'authenticationCleartextPassword' });
});

t.test('cleartext checks the password against every kind of secret', async (t) => {
  for (const kind of ['plain', 'md5', 'scram'] as const) {
    const right = auth({ authType: 'plain', tls: true, secret: SECRETS[kind] });
    right.start();
    t.same(feed(right, passwordFrame(`${PASSWORD}\0`)), { kind: 'ok' }, `${kind} secret, right password`);
    const wrong = auth({ authType: 'plain', tls: true, secret: SECRETS[kind] });
    wrong.start();
    t.same(failure(feed(wrong, passwordFrame('nope\0'))), AUTH_FAILED, `${kind} secret, wrong password`);
  }
  const unknown = auth({ authType: 'plain', tls: true, secret: undefined });
  unknown.start();
  t.same(failure(feed(unknown, passwordFrame(`${PASSWORD}\0`))), AUTH_FAILED, 'unknown user');
});

t.test('trust is ok at once', async (t) => {
  t.same(auth({ authType: 'trust', secret: undefined }).start(), { kind: 'ok' });
});

t.test('malformed SCRAM messages fail with SLUICE_AUTH_PROTOCOL', async (t) => {
  const first: Record<string, Buffer> = {
    'not a SASLInitialResponse': passwordFrame('garbage'),
    'empty frame': message('p'),
    'unsupported mechanism': saslInitialResponse('SCRAM-SHA-256-PLUS', 'p=tls-server-end-point,,n=,r=abc'),
    'garbage client-first': saslInitialResponse('SCRAM-SHA-256', 'hello'),
    'empty client-first': saslInitialResponse('SCRAM-SHA-256', ''),
  };
  for (const [name, frame] of Object.entries(first)) {
    const a = auth({});
    a.start();
    t.same(failure(feed(a, frame)), AUTH_PROTOCOL, name);
  }
  const a = auth({});
  a.start();
  sent(feed(a, saslInitialResponse('SCRAM-SHA-256', new ScramClientSession({ password: PASSWORD }).clientFirst())));
  t.same(failure(feed(a, passwordFrame('c=biws,r=bogus'))), AUTH_PROTOCOL, 'garbage client-final');
  t.same(failure(feed(a, passwordFrame('anything'))), AUTH_PROTOCOL, 'a message after the exchange ended');
});

t.test('arbitrary bytes never throw', async (t) => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 64 }), fc.uint8Array({ maxLength: 64 }), (b1, b2) => {
      const a = auth({ user: 'fuzz', secret: undefined });
      a.start();
      const s1 = feed(a, passwordFrame(Buffer.from(b1)));
      if (s1.kind === 'ok') throw new Error('accepted garbage');
      const s2 = feed(a, passwordFrame(Buffer.from(b2)));
      if (s2.kind !== 'fail') throw new Error(`second garbage message gave ${s2.kind}`);
    }),
  );
  fc.assert(
    fc.property(fc.string({ maxLength: 80 }), (text) => {
      const a = auth({});
      a.start();
      feed(a, saslInitialResponse('SCRAM-SHA-256', new ScramClientSession({ password: PASSWORD }).clientFirst()));
      const step = feed(a, passwordFrame(text));
      if (step.kind !== 'fail') throw new Error(`garbage client-final gave ${step.kind}`);
    }),
  );
  t.pass('only verdicts, never a TypeError');
});
