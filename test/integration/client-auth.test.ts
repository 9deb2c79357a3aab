// Proves how clients log in to Sluice under each auth_type with a PgBouncer auth_file, and SCRAM passthrough to Postgres without plaintext.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type pg from 'pg';
import t from 'tap';
import { md5Secret } from '../../lib/auth/md5.js';
import { scramSecretFromPassword, type ScramSecret } from '../../lib/auth/scram.js';
import { ConfigError } from '../../lib/config/schema.js';
import { makeTestCerts } from '../helpers/certs.js';
import { startTestPostgres } from '../helpers/postgres.js';
import { type LoginError, loginRefusal, loginWith, type SeenMethod } from '../helpers/login.js';
import { psql } from '../helpers/run.js';
import { buildConfig, startSluice, type TestSluice } from '../helpers/sluice.js';

interface Login {
  user: string;
  password: string;
  database?: string;
  ssl?: pg.ClientConfig['ssl'];
}

/** Logs in through Sluice; reports the method Sluice asked for and who Postgres says we are. */
function loginAs(sluice: TestSluice, l: Login): Promise<{ method: SeenMethod; user: string }> {
  return loginWith({ ...sluice.options(), user: l.user, password: l.password, database: l.database ?? 'app', ssl: l.ssl });
}

/** The error a login fails with (the test fails if it succeeds). */
function loginError(sluice: TestSluice, l: Login): Promise<LoginError> {
  return loginRefusal({ ...sluice.options(), user: l.user, password: l.password, database: l.database ?? 'app', ssl: l.ssl });
}

/** The form Postgres stores in pg_authid and PgBouncer reads from userlist.txt. */
function serialiseScram(s: ScramSecret): string {
  return `SCRAM-SHA-256$${s.iterations}:${s.salt.toString('base64')}$${s.storedKey.toString('base64')}:${s.serverKey.toString('base64')}`;
}

const pgServer = await startTestPostgres(t);
const [{ rolpassword: aliceVerifier }] = await pgServer.query("select rolpassword from pg_authid where rolname = 'alice'");
const carolFreshSalt = serialiseScram(scramSecretFromPassword('carol-secret'));

const dir = await mkdtemp(path.join(tmpdir(), 'sluice-auth-'));
t.teardown(() => rm(dir, { recursive: true, force: true }));
const userlist = path.join(dir, 'userlist.txt');
await writeFile(
  userlist,
  `${[
    '; written by client-auth.test.ts',
    `"alice" "${aliceVerifier}"`,
    `"bob" "${md5Secret('bob', 'bob-secret')}"`,
    `"plainuser" "plain-secret"`,
    `"carol" "${carolFreshSalt}"`,
  ].join('\n')}\n`,
);

// No inline passwords: every secret Sluice knows comes from the auth_file, and alice's and carol's are SCRAM only.
const fromFile = { auth_file: userlist, users: {} };

t.test('the serialised verifier matches what Postgres stores for the same salt and iterations', async (t) => {
  const m = /^SCRAM-SHA-256\$(\d+):([^$]+)\$/.exec(aliceVerifier);
  t.ok(m, `pg_authid holds a SCRAM verifier for alice: ${aliceVerifier.slice(0, 20)}...`);
  const same = scramSecretFromPassword('alice-secret', Buffer.from(m![2], 'base64'), Number(m![1]));
  t.equal(serialiseScram(same), aliceVerifier);
});

t.test('auth_type scram-sha-256', async (t) => {
  const sluice = await startSluice(t, pgServer, { auth_type: 'scram-sha-256', ...fromFile });
  t.equal(sluice.config.secrets.get('alice')?.kind, 'scram', 'alice has no plaintext anywhere');

  t.same(
    await loginAs(sluice, { user: 'alice', password: 'alice-secret' }),
    { method: 'scram', user: 'alice' },
    'pg logs in as alice, and Sluice reaches Postgres by SCRAM passthrough with the pg_authid verifier',
  );
  const viaPsql = await psql(['-c', 'select current_user'], sluice.env('alice'));
  t.equal(viaPsql.code, 0, viaPsql.err);
  t.equal(viaPsql.out, 'alice', 'psql logs in as alice');

  const wrong = await loginError(sluice, { user: 'alice', password: 'not-it' });
  t.equal(wrong.code, '28P01');
  t.equal(wrong.message, 'password authentication failed for user "alice"');
  const psqlWrong = await psql(['-c', 'select 1'], { ...sluice.env('alice'), PGPASSWORD: 'not-it' });
  t.not(psqlWrong.code, 0);
  t.match(psqlWrong.err, /password authentication failed for user "alice"/);

  const unknown = await loginError(sluice, { user: 'mallory', password: 'alice-secret' });
  t.equal(unknown.code, '28P01', 'an unknown user gets the same SQLSTATE');
  t.equal(unknown.message, 'password authentication failed for user "mallory"', 'and the same message');

  t.same(
    await loginAs(sluice, { user: 'plainuser', password: 'plain-secret' }),
    { method: 'scram', user: 'plainuser' },
    'a plaintext secret answers SCRAM',
  );
  const md5Only = await loginError(sluice, { user: 'bob', password: 'bob-secret' });
  t.equal(md5Only.code, '28P01', 'an md5 secret cannot answer SCRAM, even with the right password');
});

t.test('SCRAM passthrough needs the salt and iterations Postgres stored', async (t) => {
  const sluice = await startSluice(t, pgServer, { auth_type: 'scram-sha-256', ...fromFile, query_wait_timeout: 10 });
  // carol's secret is right for her password but has a fresh salt, so its keys are not the ones Postgres checks.
  const started = performance.now();
  const err = await loginError(sluice, { user: 'carol', password: 'carol-secret' });
  t.equal(err.code, '08006');
  t.equal(err.severity, 'FATAL');
  t.equal(err.message, 'could not log in to the server for app/carol: password authentication failed for user "carol"');
  t.ok(performance.now() - started < 5000, 'refused at login, not after query_wait_timeout');
  const wrong = await loginError(sluice, { user: 'carol', password: 'nope' });
  t.equal(wrong.code, '28P01', 'a wrong password is still stopped by Sluice itself');
});

t.test('auth_type md5', async (t) => {
  const sluice = await startSluice(t, pgServer, { auth_type: 'md5', ...fromFile });
  t.same(
    await loginAs(sluice, { user: 'bob', password: 'bob-secret' }),
    { method: 'md5', user: 'bob' },
    'bob logs in by md5, and Sluice logs in to Postgres with the stored md5 hash',
  );
  const viaPsql = await psql(['-c', 'select current_user'], sluice.env('bob'));
  t.equal(viaPsql.code, 0, viaPsql.err);
  t.equal(viaPsql.out, 'bob');
  t.same(
    await loginAs(sluice, { user: 'alice', password: 'alice-secret' }),
    { method: 'scram', user: 'alice' },
    'alice, whose secret is SCRAM, is asked for SCRAM under md5',
  );
  t.same(await loginAs(sluice, { user: 'plainuser', password: 'plain-secret' }), { method: 'md5', user: 'plainuser' });

  const wrong = await loginError(sluice, { user: 'bob', password: 'bob-secrex' });
  t.equal(wrong.code, '28P01');
  t.equal(wrong.message, 'password authentication failed for user "bob"');
  const unknown = await loginError(sluice, { user: 'mallory', password: 'bob-secret' });
  t.equal(unknown.code, '28P01');
  t.equal(unknown.message, 'password authentication failed for user "mallory"');
});

t.test('auth_type plain', async (t) => {
  t.throws(
    () => buildConfig(pgServer, { auth_type: 'plain', ...fromFile }),
    ConfigError,
    'cleartext without TLS and without auth_plain_without_tls is refused as configuration',
  );

  t.test('with client_tls, a client without TLS is refused', async (t) => {
    const certs = await makeTestCerts(t);
    const sluice = await startSluice(t, pgServer, {
      auth_type: 'plain',
      ...fromFile,
      client_tls: { cert_file: certs.serverCert, key_file: certs.serverKey },
    });
    const refused = await loginError(sluice, { user: 'plainuser', password: 'plain-secret' });
    t.equal(refused.code, '28000');
    t.match(refused.message, /cleartext password authentication requires TLS/);
    t.same(
      await loginAs(sluice, { user: 'plainuser', password: 'plain-secret', ssl: { rejectUnauthorized: false } }),
      { method: 'password', user: 'plainuser' },
      'the same login over TLS works',
    );
  });

  t.test('auth_plain_without_tls: true allows it', async (t) => {
    const sluice = await startSluice(t, pgServer, { auth_type: 'plain', auth_plain_without_tls: true, ...fromFile });
    t.same(await loginAs(sluice, { user: 'plainuser', password: 'plain-secret' }), { method: 'password', user: 'plainuser' });
    t.same(
      await loginAs(sluice, { user: 'bob', password: 'bob-secret' }),
      { method: 'password', user: 'bob' },
      'checked against an md5 secret',
    );
    // As in PgBouncer, a SCRAM secret logs in to Postgres only after a SCRAM client login: Sluice accepts
    // alice's cleartext password, then says plainly why it cannot reach Postgres for her.
    const noKeys = await loginError(sluice, { user: 'alice', password: 'alice-secret' });
    t.equal(noKeys.code, '08006', 'checked against a SCRAM secret and accepted (not 28P01)');
    t.equal(noKeys.message, 'could not log in to the server for app/alice: server asked for a password and none is configured');
    t.equal((await loginError(sluice, { user: 'alice', password: 'alice-secreT' })).code, '28P01');
    const wrong = await loginError(sluice, { user: 'plainuser', password: 'plain-secreT' });
    t.equal(wrong.code, '28P01');
    t.equal(wrong.message, 'password authentication failed for user "plainuser"');
  });
});

t.test('auth_type trust', async (t) => {
  // Inline plaintext passwords (the helper's default users) are what Sluice logs in to Postgres with.
  const sluice = await startSluice(t, pgServer, { auth_type: 'trust' });
  t.same(
    await loginAs(sluice, { user: 'alice', password: 'anything at all' }),
    { method: 'trust', user: 'alice' },
    'any password is accepted, and none is even asked for',
  );
  t.same(await loginAs(sluice, { user: 'trusty', password: '' }), { method: 'trust', user: 'trusty' });
  const viaPsql = await psql(['-c', 'select current_user'], { ...sluice.env('bob'), PGPASSWORD: 'wrong' });
  t.equal(viaPsql.code, 0, viaPsql.err);
  t.equal(viaPsql.out, 'bob');
  const noDb = await loginError(sluice, { user: 'alice', password: 'x', database: 'nope' });
  t.equal(noDb.code, '3D000', 'trust still serves configured databases only');
});
