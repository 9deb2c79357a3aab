// Proves tcp_keepalive, tcp_keepidle, tcp_keepintvl, tcp_keepcnt and tcp_user_timeout: the kernel reports them on Sluice's client and server sockets.
import { readFileSync } from 'node:fs';
import type pg from 'pg';
import t from 'tap';
import { startTestPostgres } from '../helpers/postgres.js';
import { startSluice } from '../helpers/sluice.js';
import { ownSocketFds, socketOptions } from '../helpers/socket-options.js';

const pgServer = await startTestPostgres(t);
const osKeepidle = Number(readFileSync('/proc/sys/net/ipv4/tcp_keepalive_time', 'utf8'));

/** The local port of a connected node-postgres client: Sluice's socket for it is the one whose remote port it is. */
function localPortOf(client: pg.Client): number {
  return (client as unknown as { connection: { stream: { localPort: number } } }).connection.stream.localPort;
}

/** Options of Sluice's accepted socket for this client (Sluice runs in this process, so its fds are ours to read). */
function sluiceSideOf(port: number, client: pg.Client) {
  const fds = ownSocketFds(port, localPortOf(client));
  if (fds.length !== 1) throw new Error(`expected one socket of Sluice for the client, found ${fds.length}`);
  return socketOptions(fds[0]!);
}

t.test('every option is set on client and server sockets', async (t) => {
  const sluice = await startSluice(t, pgServer, {
    tcp_keepidle: 42,
    tcp_keepintvl: 7,
    tcp_keepcnt: 3,
    tcp_user_timeout: 12345,
  });
  const client = await sluice.connect();
  await client.query('select 1');
  const want = { keepalive: 1, keepidle: 42, keepintvl: 7, keepcnt: 3, userTimeout: 12345 };
  t.same(sluiceSideOf(sluice.port, client), want, 'the accepted client socket');
  // The test's own connections to Postgres use its Unix socket: every TCP socket to its port is Sluice's.
  const serverFds = ownSocketFds(undefined, pgServer.port);
  t.ok(serverFds.length >= 1, 'Sluice holds a server connection');
  for (const fd of serverFds) t.same(socketOptions(fd), want, `server socket fd ${fd}`);
});

t.test("PgBouncer's defaults: keepalive on with the OS's timings, no user timeout", async (t) => {
  const sluice = await startSluice(t, pgServer);
  const client = await sluice.connect();
  t.match(sluiceSideOf(sluice.port, client), { keepalive: 1, keepidle: osKeepidle, userTimeout: 0 });
});

t.test('tcp_keepalive: false turns keepalive off, and a reload applies to the next client', async (t) => {
  const sluice = await startSluice(t, pgServer, { tcp_keepalive: false });
  const before = await sluice.connect();
  t.match(sluiceSideOf(sluice.port, before), { keepalive: 0 });
  sluice.reload({ tcp_keepalive: true, tcp_keepidle: 99 });
  const after = await sluice.connect();
  t.match(sluiceSideOf(sluice.port, after), { keepalive: 1, keepidle: 99 });
  t.match(sluiceSideOf(sluice.port, before), { keepalive: 0 }, 'a connected client keeps what it had');
});
