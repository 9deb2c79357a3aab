// Checks the real-Postgres test harness: roles and their auth methods, pgbench data, restart, stop, and SLUICE_TEST_PG mode.
import { existsSync } from 'node:fs';
import { connect } from 'node:net';
import pg from 'pg';
import t from 'tap';
import { startLocalPostgres } from '../../lib/local-postgres/instance.js';
import { ROLES, TEST_HBA, startTestPostgres } from '../helpers/postgres.js';

type SeenAuth = 'scram' | 'md5' | 'password' | 'trust';

const AUTH_EVENTS: Record<string, SeenAuth> = {
  authenticationSASL: 'scram',
  authenticationMD5Password: 'md5',
  authenticationCleartextPassword: 'password',
};

/** Connects, reporting the auth method the server asked for and who we ended up as. */
async function loginAs(url: string): Promise<{ method: SeenAuth; user: string }> {
  const client = new pg.Client({ connectionString: url });
  let method: SeenAuth = 'trust';
  for (const [event, seen] of Object.entries(AUTH_EVENTS)) client.connection.once(event, () => (method = seen));
  await client.connect();
  try {
    const { rows } = await client.query('SELECT current_user AS user');
    return { method, user: rows[0].user };
  } finally {
    await client.end();
  }
}

function portAccepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

const externalUrl = process.env.SLUICE_TEST_PG;
// This file tests the local harness itself; its external mode is exercised below against a local server.
delete process.env.SLUICE_TEST_PG;

t.test('local throwaway server', async (t) => {
  const server = await startTestPostgres(t);
  t.match(server.version, /^\d+\.\d+/);
  t.ok(['embedded', 'system'].includes(server.source), `source ${server.source}`);

  t.test('each role logs in with its own auth method', async (t) => {
    for (const role of Object.values(ROLES)) {
      t.same(await loginAs(server.url(role.user)), { method: role.method, user: role.user }, role.user);
    }
    await t.rejects(loginAs(server.url('alice', 'wrong')), { code: '28P01' }, 'a wrong SCRAM password fails');
    await t.rejects(loginAs(server.url('bob', 'wrong')), { code: '28P01' }, 'a wrong md5 password fails');
  });

  t.test('secrets are stored as md5 for bob and SCRAM for alice', async (t) => {
    const rows = await server.query("SELECT rolname, rolpassword FROM pg_authid WHERE rolname IN ('alice', 'bob') ORDER BY rolname");
    t.match(rows[0], { rolname: 'alice', rolpassword: /^SCRAM-SHA-256\$/ });
    t.match(rows[1], { rolname: 'bob', rolpassword: /^md5[0-9a-f]{32}$/ });
  });

  t.test('pgbenchInit loads scale 1 once, usable by every role', async (t) => {
    await server.pgbenchInit(1);
    await server.pgbenchInit(1);
    const [{ n }] = await server.query('SELECT count(*)::int AS n FROM pgbench_accounts');
    t.equal(n, 100000);
    const bob = new pg.Client({ connectionString: server.url('bob') });
    await bob.connect();
    const { rows } = await bob.query('UPDATE pgbench_branches SET bbalance = bbalance + 1 WHERE bid = 1 RETURNING bbalance');
    await bob.end();
    t.same(rows, [{ bbalance: 1 }]);
  });

  t.test('restart keeps port and data, ends old sessions', async (t) => {
    const before = new pg.Client({ connectionString: server.url('alice') });
    before.on('error', () => undefined);
    await before.connect();
    const port = server.port;
    await server.restart();
    await t.rejects(before.query('SELECT 1'), 'the old session was terminated');
    t.equal(server.port, port);
    t.same(await loginAs(server.url('carol')), { method: 'scram', user: 'carol' });
    const [{ n }] = await server.query('SELECT count(*)::int AS n FROM pgbench_accounts');
    t.equal(n, 100000);
  });

  t.test('stop is idempotent, removes the data dir and frees the port', async (t) => {
    t.ok(existsSync(server.dataDir));
    await server.stop();
    await server.stop();
    t.notOk(existsSync(server.dataDir), 'data dir removed');
    t.equal(await portAccepts(server.port), false, 'port closed');
    await t.rejects(server.restart(), /after stop/);
  });
});

t.test('SLUICE_TEST_PG mode uses an existing server without owning it', async (t) => {
  const existing = await startLocalPostgres({ hba: TEST_HBA });
  t.teardown(() => existing.stop());
  const superUrl = `postgres://${existing.superuser}:${existing.password}@${existing.host}:${existing.port}/postgres`;
  process.env.SLUICE_TEST_PG = superUrl;
  t.teardown(() => void delete process.env.SLUICE_TEST_PG);

  const first = await startTestPostgres(t);
  const second = await startTestPostgres(t); // Roles and db already exist: setup must be repeatable.
  t.equal(second.source, 'external');
  t.equal(second.port, existing.port);
  t.same(await loginAs(second.url('bob')), { method: 'md5', user: 'bob' });
  await t.rejects(first.restart(), /only on the local throwaway server/);
  await t.rejects(startTestPostgres(t, { settings: { max_connections: 20 } }), /cannot be applied/);
  await first.stop();
  t.equal(await portAccepts(existing.port), true, 'stop() leaves an external server running');
});

t.teardown(() => {
  if (externalUrl !== undefined) process.env.SLUICE_TEST_PG = externalUrl;
});
