// Proves Unix domain sockets toward Postgres: a database whose host is a socket directory (`host: /var/run/postgresql` style) is served over it, cancels included.
import t from 'tap';
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
