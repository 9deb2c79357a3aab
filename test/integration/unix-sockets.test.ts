// Proves Unix domain sockets on both sides: Sluice listening on unix_socket_dir (mode, group, hba `local` rules), and a database whose host is a socket directory (`host: /var/run/postgresql` style), cancels included.
import { statSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import t from 'tap';
import { loginRefusal, loginWith } from '../helpers/login.js';
import { APP_DB, startTestPostgres } from '../helpers/postgres.js';
import { startSluice } from '../helpers/sluice.js';
import { connectWatched, type Failure, waitFor, within } from '../helpers/wait.js';

const pgServer = await startTestPostgres(t);
// The test server puts its socket in its data directory (unix_socket_directories).
const socketDir = pgServer.dataDir;

t.test('a database whose host is a directory is reached through the socket in it', async (t) => {
  const sluice = await startSluice(t, pgServer, { databases: { [APP_DB]: { host: socketDir, port: pgServer.port, dbname: APP_DB } } });
  const c = await sluice.connect('alice');
  const { rows } = await c.query('select inet_server_addr() is null as over_unix, current_user as user');
  t.same(rows, [{ over_unix: true, user: 'alice' }], 'Postgres sees a Unix-socket connection');
});

t.test('a cancel reaches the backend over the socket too', async (t) => {
  const sluice = await startSluice(t, pgServer, {
    query_timeout: 0.5,
    databases: { [APP_DB]: { host: socketDir, port: pgServer.port, dbname: APP_DB } },
  });
  const slow = await connectWatched(t, sluice, 'carol');
  const failed = slow.client.query('select pg_sleep(60)').then(
    () => null,
    (err: Failure) => err,
  );
  await within('the client to be closed', slow.ended, 10_000);
  t.match((await failed) ?? slow.errors[0], { code: '57014' });
  await waitFor('Postgres to stop the query', async () => {
    const rows = await pgServer.query(
      "select 1 from pg_stat_activity where usename = 'carol' and query = 'select pg_sleep(60)' and state = 'active'",
    );
    return rows.length === 0;
  });
});

t.test('Sluice listens on .s.PGSQL.<port> in unix_socket_dir, with its mode and group, and hba local rules apply', async (t) => {
  const dir = await mkdtemp(path.join(tmpdir(), 'sluice-sock-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const hba = path.join(dir, 'hba.conf');
  await writeFile(hba, 'local all all trust\nhost all all all reject\n');
  const gid = process.getgid!();
  const sluice = await startSluice(t, pgServer, {
    unix_socket_dir: dir,
    unix_socket_mode: '0770',
    unix_socket_group: String(gid),
    auth_type: 'hba',
    auth_hba_file: hba,
  });
  const socketFile = path.join(dir, `.s.PGSQL.${sluice.port}`);
  const st = statSync(socketFile);
  t.ok(st.isSocket(), 'the socket file is there');
  t.equal(st.mode & 0o777, 0o770, 'unix_socket_mode');
  t.equal(st.gid, gid, 'unix_socket_group');
  // node-postgres takes a directory as host, as libpq does.
  t.same(
    await loginWith({ host: dir, port: sluice.port, user: 'alice', database: APP_DB }),
    { method: 'trust', user: 'alice' },
    'the local rule',
  );
  t.match(
    await loginRefusal({ host: '127.0.0.1', port: sluice.port, user: 'alice', password: 'alice-secret', database: APP_DB }),
    {
      code: '28000',
      message: 'login rejected',
    },
    'TCP clients meet the host rule',
  );
  await sluice.pooler.close();
  t.throws(() => statSync(socketFile), 'the socket file is removed at shutdown');
});

t.test('a stale socket file left by a dead process is replaced', async (t) => {
  const dir = await mkdtemp(path.join(tmpdir(), 'sluice-sock-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const first = await startSluice(t, pgServer, { unix_socket_dir: dir, listen_port: 0 });
  const port = first.port;
  // A file where the socket goes, as a killed process leaves it.
  await first.pooler.close();
  await writeFile(path.join(dir, `.s.PGSQL.${port}`), '');
  const second = await startSluice(t, pgServer, { unix_socket_dir: dir, listen_port: port });
  const c = await loginWith({ host: dir, port: second.port, user: 'alice', password: 'alice-secret', database: APP_DB });
  t.equal(c.user, 'alice');
});
