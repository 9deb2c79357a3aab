// Tests for SCRAM-SHA-256: RFC 7677 vector, round trips, passthrough, mock secrets, malformed input, pg interop.
import t from 'tap';
import { createRequire } from 'node:module';
import {
  ScramClientSession,
  ScramError,
  ScramServerSession,
  mockScramSecret,
  saslprep,
  scramSecretFromPassword,
  type ScramClientCredential,
  type ScramServerResult,
} from '../../../lib/auth/scram.js';

const RFC = {
  clientNonce: 'rOprNGfwEbeRWgbNEkqO',
  serverNonce: '%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0',
  salt: Buffer.from('W22ZaJ0SNY7soEsUEjb6gQ==', 'base64'),
  clientFirst: 'n,,n=user,r=rOprNGfwEbeRWgbNEkqO',
  serverFirst: 'r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096',
  clientFinal: 'c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=',
  serverFinal: 'v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=',
};

function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (err) {
    return err;
  }
  return undefined;
}

/** Drives a full exchange; the client verifies the server's signature when the server accepts. */
function exchange(server: ScramServerSession, client: ScramClientSession): ScramServerResult {
  const serverFirst = server.clientFirst(client.clientFirst());
  const result = server.clientFinal(client.serverFirst(serverFirst));
  if (result.ok && result.serverFinal !== undefined) client.serverFinal(result.serverFinal);
  return result;
}

function fixedNonce(value: string): () => string {
  return () => value;
}

t.test('RFC 7677 test vector', async (t) => {
  t.test('client session reproduces the proof and accepts the server signature', async (t) => {
    const client = new ScramClientSession({ password: 'pencil', user: 'user' }, fixedNonce(RFC.clientNonce));
    t.equal(client.clientFirst(), RFC.clientFirst);
    t.equal(client.serverFirst(RFC.serverFirst), RFC.clientFinal);
    t.doesNotThrow(() => client.serverFinal(RFC.serverFinal));
  });

  t.test('server session reproduces server-first and the server signature', async (t) => {
    const secret = scramSecretFromPassword('pencil', RFC.salt, 4096);
    const server = new ScramServerSession(secret, fixedNonce(RFC.serverNonce));
    t.equal(server.clientFirst(RFC.clientFirst), RFC.serverFirst);
    const result = server.clientFinal(RFC.clientFinal);
    t.equal(result.ok, true);
    t.equal(result.serverFinal, RFC.serverFinal);
    t.equal(result.clientKey?.length, 32);
  });

  t.test('byte nonces are base64-encoded', async (t) => {
    const client = new ScramClientSession({ password: 'pencil' }, () => Buffer.from(RFC.clientNonce, 'base64'));
    t.equal(client.clientFirst(), `n,,n=,r=${RFC.clientNonce}`);
  });
});

t.test('round trips', async (t) => {
  t.test('plain secret on the server, password on the client', async (t) => {
    const result = exchange(new ScramServerSession({ kind: 'plain', password: 's3cret' }), new ScramClientSession({ password: 's3cret' }));
    t.equal(result.ok, true);
    t.match(result.serverFinal, /^v=[A-Za-z0-9+/]{43}=$/);
  });

  t.test('stored scram secret on the server', async (t) => {
    const secret = scramSecretFromPassword('hunter2', undefined, 1000);
    t.equal(secret.salt.length, 16);
    t.equal(exchange(new ScramServerSession(secret), new ScramClientSession({ password: 'hunter2' })).ok, true);
  });

  t.test('default iteration count is 4096', async (t) => {
    const server = new ScramServerSession(scramSecretFromPassword('x'));
    t.match(server.clientFirst('n,,n=,r=abc'), /,i=4096$/);
  });

  t.test('wrong password gives ok:false without keys or signature', async (t) => {
    const server = new ScramServerSession(scramSecretFromPassword('right'));
    const result = exchange(server, new ScramClientSession({ password: 'wrong' }));
    t.same(result, { ok: false });
  });

  t.test('username escaping in n= is accepted', async (t) => {
    const client = new ScramClientSession({ password: 'p', user: 'a=b,c' }, fixedNonce('nonce'));
    t.equal(client.clientFirst(), 'n,,n=a=3Db=2Cc,r=nonce');
  });

  t.test('client rejects a forged server signature (mutual auth)', async (t) => {
    const server = new ScramServerSession(scramSecretFromPassword('pw'));
    const client = new ScramClientSession({ password: 'pw' });
    const serverFirst = server.clientFirst(client.clientFirst());
    server.clientFinal(client.serverFirst(serverFirst));
    const err = thrown(() => client.serverFinal(`v=${Buffer.alloc(32, 7).toString('base64')}`));
    t.ok(err instanceof ScramError, 'forged signature is a ScramError');
  });
});

t.test('SCRAM passthrough with the recovered ClientKey', async (t) => {
  const secret = scramSecretFromPassword('passthrough-pw', undefined, 2048);
  const first = exchange(new ScramServerSession(secret), new ScramClientSession({ password: 'passthrough-pw' }));
  t.equal(first.ok, true);
  const clientKey = first.clientKey;
  if (clientKey === undefined) throw new Error('clientKey missing');

  const cred: ScramClientCredential = { clientKey, serverKey: secret.serverKey };
  const second = exchange(new ScramServerSession(secret), new ScramClientSession(cred));
  t.equal(second.ok, true, 'keys alone log in to a server holding the same verifier');
  t.ok(second.clientKey?.equals(clientKey), 'the same ClientKey is recovered again');

  const other = scramSecretFromPassword('passthrough-pw', undefined, 2048);
  const third = exchange(new ScramServerSession(other), new ScramClientSession(cred));
  t.equal(third.ok, false, 'keys do not work against a verifier with a different salt');

  t.ok(thrown(() => new ScramClientSession({ clientKey: Buffer.alloc(5), serverKey: secret.serverKey })) instanceof ScramError);
});

t.test('mock secrets for unknown users', async (t) => {
  const key = Buffer.from('0123456789abcdef0123456789abcdef');
  const a1 = mockScramSecret('alice', key);
  const a2 = mockScramSecret('alice', key);
  const b = mockScramSecret('bob', key);
  t.ok(a1.salt.equals(a2.salt), 'same user, same salt: repeated probes look stable');
  t.notOk(a1.salt.equals(b.salt), 'different users get different salts');
  t.notOk(mockScramSecret('alice', Buffer.from('other-key')).salt.equals(a1.salt), 'salt depends on the key');
  t.equal(a1.salt.length, 16);
  t.equal(a1.iterations, 4096);
  const result = exchange(new ScramServerSession(a1), new ScramClientSession({ password: 'anything' }));
  t.same(result, { ok: false }, 'the exchange runs to the end and fails like a wrong password');
});

t.test('secrets the server cannot use', async (t) => {
  t.ok(thrown(() => new ScramServerSession({ kind: 'md5', hash: `md5${'0'.repeat(32)}` })) instanceof ScramError);
  const broken = { ...scramSecretFromPassword('x', undefined, 1), storedKey: Buffer.alloc(3) };
  t.ok(thrown(() => new ScramServerSession(broken)) instanceof ScramError);
  t.ok(thrown(() => scramSecretFromPassword('x', undefined, 0)) instanceof ScramError);
});

t.test('malformed client-first-message throws ScramError', async (t) => {
  const cases: Record<string, string> = {
    'empty message': '',
    'missing r=': 'n,,n=user',
    'r= before n=': 'n,,r=abc,n=user',
    'empty nonce': 'n,,n=,r=',
    'non-printable nonce': 'n,,n=,r=ab\u0001c',
    'unknown gs2 flag': 'x,,n=,r=abc',
    'gs2 flag without comma': 'n;,n=,r=abc',
    authzid: 'n,a=admin,n=,r=abc',
    'channel binding p=': 'p=tls-server-end-point,,n=,r=abc',
    'mandatory extension': 'n,,m=ext,n=,r=abc',
    'attribute without =': 'n,,n=,r=abc,junk',
  };
  for (const [name, msg] of Object.entries(cases)) {
    const server = new ScramServerSession(scramSecretFromPassword('pw', undefined, 1));
    t.ok(thrown(() => server.clientFirst(msg)) instanceof ScramError, name);
  }
  const server = new ScramServerSession(scramSecretFromPassword('pw', undefined, 1));
  t.ok(thrown(() => server.clientFirst(undefined as unknown as string)) instanceof ScramError, 'non-string input');
});

t.test('client-first variants PostgreSQL accepts', async (t) => {
  for (const msg of ['y,,n=,r=abc', 'n,,n=*,r=abc', 'n,,n=user,r=abc,x=ext']) {
    const server = new ScramServerSession(scramSecretFromPassword('pw', undefined, 1), fixedNonce('srv'));
    t.match(server.clientFirst(msg), /^r=abcsrv,s=/, msg);
  }
});

t.test('malformed client-final-message throws ScramError', async (t) => {
  const secret = scramSecretFromPassword('pencil', RFC.salt, 4096);
  const proof = 'p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=';
  const nonce = 'r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0';
  const cases: Record<string, string> = {
    'missing proof': `c=biws,${nonce}`,
    'missing r=': `c=biws,${proof}`,
    'bad base64 proof': `c=biws,${nonce},p=not*base64`,
    'short proof': `c=biws,${nonce},p=AAAA`,
    'bad base64 channel binding': `c=b!ws,${nonce},${proof}`,
    'channel binding differs from gs2 header': `c=eSws,${nonce},${proof}`,
    'nonce mismatch': `c=biws,r=rOprNGfwEbeRWgbNEkqOother,${proof}`,
    'garbage after proof': `c=biws,${nonce},${proof},x=1`,
    'empty message': '',
  };
  for (const [name, msg] of Object.entries(cases)) {
    const server = new ScramServerSession(secret, fixedNonce(RFC.serverNonce));
    server.clientFirst(RFC.clientFirst);
    t.ok(thrown(() => server.clientFinal(msg)) instanceof ScramError, name);
  }

  const withExtension = new ScramServerSession(secret, fixedNonce(RFC.serverNonce));
  withExtension.clientFirst(RFC.clientFirst);
  t.equal(withExtension.clientFinal(`c=biws,${nonce},x=ext,${proof}`).ok, false, 'extensions are part of the signed message');
});

t.test('messages out of order throw ScramError', async (t) => {
  const server = new ScramServerSession(scramSecretFromPassword('pw', undefined, 1));
  t.ok(thrown(() => server.clientFinal(RFC.clientFinal)) instanceof ScramError, 'final before first');
  t.ok(thrown(() => server.clientFirst('garbage')) instanceof ScramError);
  t.ok(thrown(() => server.clientFirst('n,,n=,r=abc')) instanceof ScramError, 'no retry after an error');

  const client = new ScramClientSession({ password: 'pw' });
  t.ok(thrown(() => client.serverFirst(RFC.serverFirst)) instanceof ScramError, 'server-first before client-first');
  t.ok(thrown(() => client.serverFinal(RFC.serverFinal)) instanceof ScramError, 'server-final before client-first');
});

t.test('malformed server messages throw ScramError on the client', async (t) => {
  const cases: Record<string, string> = {
    'nonce not extending ours': 'r=someoneelse,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096',
    'nonce equal to ours': `r=${RFC.clientNonce},s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096`,
    'missing r=': 's=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096',
    'bad base64 salt': `r=${RFC.clientNonce}x,s=@@@,i=4096`,
    'empty salt': `r=${RFC.clientNonce}x,s=,i=4096`,
    'iteration count 0': `r=${RFC.clientNonce}x,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=0`,
    'negative iteration count': `r=${RFC.clientNonce}x,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=-1`,
    'huge iteration count': `r=${RFC.clientNonce}x,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=99999999999`,
    'non-numeric iteration count': `r=${RFC.clientNonce}x,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4k`,
    'garbage at end': `r=${RFC.clientNonce}x,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=1,x=1`,
    'mandatory extension': `m=ext,r=${RFC.clientNonce}x,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=1`,
  };
  for (const [name, msg] of Object.entries(cases)) {
    const client = new ScramClientSession({ password: 'pencil' }, fixedNonce(RFC.clientNonce));
    client.clientFirst();
    t.ok(thrown(() => client.serverFirst(msg)) instanceof ScramError, name);
  }

  const finals: Record<string, string> = {
    'server error e=': 'e=invalid-proof',
    'bad base64 signature': 'v=%%%',
    'short signature': 'v=AAAA',
    'missing v=': 'x=1',
    'garbage after signature': `${RFC.serverFinal},x=1`,
  };
  for (const [name, msg] of Object.entries(finals)) {
    const client = new ScramClientSession({ password: 'pencil', user: 'user' }, fixedNonce(RFC.clientNonce));
    client.clientFirst();
    client.serverFirst(RFC.serverFirst);
    const err = thrown(() => client.serverFinal(msg));
    t.ok(err instanceof ScramError, name);
  }
});

t.test('SASLprep', async (t) => {
  t.equal(saslprep('pencil'), 'pencil', 'ASCII is unchanged');
  t.equal(saslprep('a\u0007b'), 'a\u0007b', 'ASCII skips the prohibited check, like PostgreSQL');
  t.equal(saslprep('I\u00ADX'), 'IX', 'soft hyphen maps to nothing (RFC 4013 example)');
  t.equal(saslprep('\u00AA'), 'a', 'NFKC (RFC 4013 example)');
  t.equal(saslprep('\u2168'), 'IX', 'NFKC (RFC 4013 example)');
  t.equal(saslprep('a\u00A0b'), 'a b', 'non-ASCII space maps to space');
  t.equal(saslprep('\u00AA\uE000'), '\u00AA\uE000', 'prohibited output falls back to the raw password');
  t.equal(saslprep('\u00AA\uD800'), '\u00AA\uD800', 'lone surrogate falls back to the raw password');

  const secret = scramSecretFromPassword('IX', undefined, 1);
  const result = exchange(new ScramServerSession(secret), new ScramClientSession({ password: '\u2168' }));
  t.equal(result.ok, true, 'equivalent passwords authenticate after SASLprep');
});

t.test('interop with the pg driver SCRAM client', async (t) => {
  const require = createRequire(import.meta.url);
  const sasl = require('pg/lib/crypto/sasl.js') as {
    startSession(mechanisms: string[], stream?: object): { response: string };
    continueSession(session: object, password: string, serverData: string, stream?: object): Promise<void>;
    finalizeSession(session: object, serverData: string): void;
  };

  async function pgLogin(server: ScramServerSession, password: string, stream?: object): Promise<ScramServerResult> {
    const session = sasl.startSession(['SCRAM-SHA-256'], stream);
    const serverFirst = server.clientFirst(session.response);
    await sasl.continueSession(session, password, serverFirst, stream);
    const result = server.clientFinal(session.response);
    if (result.ok && result.serverFinal !== undefined) sasl.finalizeSession(session, result.serverFinal);
    return result;
  }

  t.equal((await pgLogin(new ScramServerSession({ kind: 'plain', password: 'pg-pw' }), 'pg-pw')).ok, true, 'plain secret');
  const stored = scramSecretFromPassword('pg-pw');
  t.equal((await pgLogin(new ScramServerSession(stored), 'pg-pw')).ok, true, 'stored scram secret');
  t.equal((await pgLogin(new ScramServerSession(stored), 'pg-pw', {})).ok, true, 'gs2 flag y over TLS');
  t.equal((await pgLogin(new ScramServerSession(stored), 'nope')).ok, false, 'wrong password');
  t.equal((await pgLogin(new ScramServerSession(scramSecretFromPassword('IX')), '\u2168')).ok, true, 'SASLprep agrees');
});
