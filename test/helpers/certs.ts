// Owns throwaway TLS material for tests: a CA, a server cert for 127.0.0.1/localhost, and a wrong-host cert, made by openssl.
import { execFile } from 'node:child_process';
import { chmod, chown, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { resolveRunAs, type RunAs } from '../../lib/local-postgres/binaries.js';
import type { TeardownHost } from './postgres.js';

const execFileAsync = promisify(execFile);

export interface TestCerts {
  dir: string;
  /** The CA that signed both leaf certificates (PEM). */
  caCert: string;
  /** Valid for DNS:localhost and IP:127.0.0.1. */
  serverCert: string;
  serverKey: string;
  /**
   * Signed by the same CA, valid for DNS names wrong.example and localhost but not for IP 127.0.0.1, where tests
   * connect: verify-ca passes, verify-full fails, and a check that falls back to "localhost" is caught.
   */
  wrongHostCert: string;
  wrongHostKey: string;
}

// Our own minimal config, so the result does not depend on the system's openssl.cnf defaults.
const REQ_CONFIG = `[req]
distinguished_name = dn
prompt = no
[dn]
CN = unused
[v3_ca]
basicConstraints = critical,CA:TRUE
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
`;

function leafExtensions(altNames: string): string {
  return `basicConstraints = CA:FALSE
keyUsage = critical,digitalSignature,keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = ${altNames}
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
`;
}

const EC_KEY = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];

async function openssl(args: string[]): Promise<void> {
  try {
    await execFileAsync('openssl', args, { timeout: 30_000 });
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new Error(`openssl ${args[0]} failed: ${e.stderr?.trim() || e.message}`);
  }
}

async function makeLeaf(dir: string, name: string, cn: string, altNames: string, serial: number) {
  const cert = path.join(dir, `${name}.crt`);
  const key = path.join(dir, `${name}.key`);
  const csr = path.join(dir, `${name}.csr`);
  const ext = path.join(dir, `${name}.ext`);
  await writeFile(ext, leafExtensions(altNames));
  await openssl(['req', '-new', ...EC_KEY, '-config', path.join(dir, 'req.cnf'), '-keyout', key, '-out', csr, '-subj', `/CN=${cn}`]);
  await openssl([
    'x509',
    '-req',
    '-in',
    csr,
    '-CA',
    path.join(dir, 'ca.crt'),
    '-CAkey',
    path.join(dir, 'ca.key'),
    '-set_serial',
    String(serial),
    '-days',
    '2',
    '-sha256',
    '-extfile',
    ext,
    '-out',
    cert,
  ]);
  return { cert, key };
}

/** Who Postgres runs as (see lib/local-postgres/instance.ts): as root, the `postgres` OS user, which must own the key files. */
async function postgresOwner(): Promise<RunAs | undefined> {
  if (process.getuid?.() !== 0) return undefined;
  try {
    const [uid, gid] = await Promise.all([execFileAsync('id', ['-u', 'postgres']), execFileAsync('id', ['-g', 'postgres'])]);
    return { uid: Number(uid.stdout), gid: Number(gid.stdout) };
  } catch {
    // Not created yet: the harness' own resolver creates it (no pooler runs yet, so its sync call is harmless).
    return resolveRunAs();
  }
}

/** Postgres refuses a key that others can read, and must be able to read it itself. */
async function handToPostgres(files: string[], owner: RunAs | undefined): Promise<void> {
  for (const file of files) {
    await chmod(file, 0o600);
    if (owner) await chown(file, owner.uid, owner.gid);
  }
}

/** Generate the CA and both leaf certificates in a fresh temp dir, removed at t's teardown. */
export async function makeTestCerts(t: TeardownHost): Promise<TestCerts> {
  const dir = await mkdtemp(path.join(tmpdir(), 'sluice-certs-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  await chmod(dir, 0o755); // The postgres OS user must reach the files inside.
  await writeFile(path.join(dir, 'req.cnf'), REQ_CONFIG);
  await openssl([
    'req',
    '-x509',
    '-new',
    ...EC_KEY,
    '-config',
    path.join(dir, 'req.cnf'),
    '-extensions',
    'v3_ca',
    '-keyout',
    path.join(dir, 'ca.key'),
    '-out',
    path.join(dir, 'ca.crt'),
    '-days',
    '2',
    '-sha256',
    '-subj',
    '/CN=Sluice Test CA',
  ]);
  const server = await makeLeaf(dir, 'server', 'localhost', 'DNS:localhost,IP:127.0.0.1', 1001);
  const wrong = await makeLeaf(dir, 'wrong-host', 'wrong.example', 'DNS:wrong.example,DNS:localhost', 1002);
  const owner = await postgresOwner();
  await handToPostgres([server.cert, server.key, wrong.cert, wrong.key], owner);
  return {
    dir,
    caCert: path.join(dir, 'ca.crt'),
    serverCert: server.cert,
    serverKey: server.key,
    wrongHostCert: wrong.cert,
    wrongHostKey: wrong.key,
  };
}
