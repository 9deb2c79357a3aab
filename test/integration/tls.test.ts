// Proves TLS on both sides: client_tls as psql and pg see it, and server_tls sslmodes as Postgres' pg_stat_ssl sees them.
import { readFile } from 'node:fs/promises';
import tls from 'node:tls';
import pg from 'pg';
import t from 'tap';
import { makeTestCerts } from '../helpers/certs.js';
import { startTestPostgres, type TeardownHost, type TestPostgres } from '../helpers/postgres.js';
import { psql } from '../helpers/run.js';
import { startSluice, type TestSluice } from '../helpers/sluice.js';

type Failure = { code?: string; message: string; severity?: string };

/** Runs one query as alice through Sluice; returns its first row or the error. */
async function queryAs(
  sluice: TestSluice,
  sql: string,
  ssl?: pg.ClientConfig['ssl'],
): Promise<{ row?: any; tls?: boolean; err?: Failure }> {
  const client = new pg.Client({ ...sluice.options('alice'), ssl });
  client.on('error', () => undefined);
  try {
    await client.connect();
    const { rows } = await client.query(sql);
    const stream = (client as unknown as { connection: { stream: unknown } }).connection.stream;
    return { row: rows[0], tls: stream instanceof tls.TLSSocket };
  } catch (err) {
    return { err: err as Failure };
  } finally {
    await client.end().catch(() => undefined);
  }
}

const SERVER_SSL = 'select ssl from pg_stat_ssl where pid = pg_backend_pid()';

const certs = await makeTestCerts(t);
const plainPg = await startTestPostgres(t);

/** psql env through a Sluice with libpq's TLS settings. */
function tlsEnv(sluice: TestSluice, sslmode: string, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return { ...sluice.env('alice'), PGSSLMODE: sslmode, ...extra };
}

t.test('client_tls: clients can connect with TLS', async (t) => {
  const sluice = await startSluice(t, plainPg, { client_tls: { cert_file: certs.serverCert, key_file: certs.serverKey } });

  const conninfo = await psql(['-c', '\\conninfo'], tlsEnv(sluice, 'require'));
  t.equal(conninfo.code, 0, conninfo.err);
  t.match(conninfo.out, /SSL connection \(protocol: TLSv1\.[23]/, 'psql sslmode=require reports an SSL connection');

  for (const host of ['127.0.0.1', 'localhost']) {
    const verified = await psql(['-c', 'select 42'], tlsEnv(sluice, 'verify-full', { PGHOST: host, PGSSLROOTCERT: certs.caCert }));
    t.equal(verified.code, 0, verified.err);
    t.equal(verified.out, '42', `psql sslmode=verify-full with the CA works for ${host}`);
  }

  const loose = await queryAs(sluice, 'select current_user as who', { rejectUnauthorized: false });
  t.same(loose, { row: { who: 'alice' }, tls: true }, 'pg with ssl: { rejectUnauthorized: false }');
  const strict = await queryAs(sluice, 'select current_user as who', { ca: await readFile(certs.caCert, 'utf8') });
  t.same(strict, { row: { who: 'alice' }, tls: true }, 'pg verifying the certificate against the CA');

  const withoutTls = await queryAs(sluice, 'select 1 as n');
  t.same(withoutTls, { row: { n: 1 }, tls: false }, 'TLS is offered, not required');
});

t.test('client_tls presents the configured certificate', async (t) => {
  const sluice = await startSluice(t, plainPg, { client_tls: { cert_file: certs.wrongHostCert, key_file: certs.wrongHostKey } });
  const full = await psql(['-c', 'select 1'], tlsEnv(sluice, 'verify-full', { PGSSLROOTCERT: certs.caCert }));
  t.not(full.code, 0);
  t.match(full.err, /server certificate for "wrong\.example".* does not match host name "127\.0\.0\.1"/);
  const ca = await psql(['-c', 'select 1'], tlsEnv(sluice, 'verify-ca', { PGSSLROOTCERT: certs.caCert }));
  t.equal(ca.code, 0, ca.err);
});

t.test('without client_tls, sslmode=require fails', async (t) => {
  const sluice = await startSluice(t, plainPg);
  const r = await psql(['-c', 'select 1'], tlsEnv(sluice, 'require'));
  t.not(r.code, 0);
  t.match(r.err, /server does not support SSL, but SSL was required/, 'Sluice answered N to the SSLRequest');
  const plain = await psql(['-c', 'select 1'], tlsEnv(sluice, 'prefer'));
  t.equal(plain.code, 0, plain.err);
});

/** Starts a Sluice with this server_tls in front of `server` and reports what pg_stat_ssl says (or the error). */
async function serverSide(t: TeardownHost, server: TestPostgres, serverTls: Record<string, string>) {
  const sluice = await startSluice(t, server, { server_tls: serverTls });
  return queryAs(sluice, SERVER_SSL);
}

t.test('server_tls against a Postgres with TLS', async (t) => {
  const tlsPg = await startTestPostgres(t, {
    settings: { ssl: 'on', ssl_cert_file: certs.serverCert, ssl_key_file: certs.serverKey },
  });
  const cases: Array<[Record<string, string>, boolean]> = [
    [{ sslmode: 'prefer' }, true],
    [{ sslmode: 'require' }, true],
    [{ sslmode: 'verify-ca', ca_file: certs.caCert }, true],
    [{ sslmode: 'verify-full', ca_file: certs.caCert }, true],
    [{ sslmode: 'disable' }, false],
  ];
  for (const [serverTls, ssl] of cases) {
    t.same(await serverSide(t, tlsPg, serverTls), { row: { ssl }, tls: false }, `sslmode ${serverTls.sslmode}: ssl is ${ssl}`);
  }
  const untrusted = await serverSide(t, tlsPg, { sslmode: 'verify-ca' });
  t.equal(untrusted.err?.code, '08006', 'verify-ca without the CA is refused');
  t.match(untrusted.err?.message, /^could not log in to the server for app\/alice: .*(certificate|self.signed)/i);
});

t.test('server_tls verify-full against a certificate for another host', async (t) => {
  const wrongPg = await startTestPostgres(t, {
    settings: { ssl: 'on', ssl_cert_file: certs.wrongHostCert, ssl_key_file: certs.wrongHostKey },
  });
  const full = await serverSide(t, wrongPg, { sslmode: 'verify-full', ca_file: certs.caCert });
  t.equal(full.err?.code, '08006');
  t.equal(full.err?.severity, 'FATAL');
  // The cert is valid for "localhost" too: only a check against the real address 127.0.0.1 refuses it.
  t.match(
    full.err?.message,
    /^could not log in to the server for app\/alice: Hostname\/IP does not match certificate's altnames: IP: 127\.0\.0\.1 is not in the cert's list/,
    'the client is told the address does not match the certificate',
  );
  t.same(
    await serverSide(t, wrongPg, { sslmode: 'verify-ca', ca_file: certs.caCert }),
    { row: { ssl: true }, tls: false },
    'verify-ca checks only the chain, so the same server is accepted',
  );
});

t.test('server_tls against a Postgres without TLS', async (t) => {
  t.same(await serverSide(t, plainPg, { sslmode: 'prefer' }), { row: { ssl: false }, tls: false }, 'prefer falls back to cleartext');
  const required = await serverSide(t, plainPg, { sslmode: 'require' });
  t.equal(required.err?.code, '08006');
  t.equal(required.err?.message, 'could not log in to the server for app/alice: server does not support TLS (sslmode=require)');
});
