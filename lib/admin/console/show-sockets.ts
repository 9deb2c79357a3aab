// SHOW CLIENTS and SHOW SERVERS: one row per connection, with PgBouncer's socket columns in its order.
import type net from 'node:net';
import type tls from 'node:tls';
import type { Pool } from '../../pool/pool.js';
import type { ServerConnection } from '../../pool/server-connection.js';
import type { ClientSession } from '../../session/client-session.js';
import type { AdminHost, ConsoleClient } from '../admin-host.js';
import { columns, timestamp, type Cell, type ResultSet } from './result-set.js';

const SOCKET_COLUMNS = {
  type: 'text',
  user: 'text',
  database: 'text',
  replication: 'text',
  state: 'text',
  addr: 'text',
  port: 'int4',
  local_addr: 'text',
  local_port: 'int4',
  connect_time: 'text',
  request_time: 'text',
  wait: 'int4',
  wait_us: 'int4',
  close_needed: 'int4',
  ptr: 'text',
  link: 'text',
  remote_pid: 'int4',
  tls: 'text',
  application_name: 'text',
  prepared_statements: 'int4',
  id: 'int8',
} as const;

// Sluice's own columns follow PgBouncer's.
// buffered_bytes: what Sluice holds for the client (see ClientSession.bufferedBytes), bounded near pkt_buf.
export const CLIENTS_COLUMNS = columns({ ...SOCKET_COLUMNS, tenant: 'text', class: 'text', buffered_bytes: 'int8' });
export const SERVERS_COLUMNS = columns({ ...SOCKET_COLUMNS, tenant: 'text', pinned: 'int4' });

/** The pointer columns: PgBouncer prints addresses, Sluice prints stable names of the same objects. */
const clientPtr = (id: number): string => `client-${id}`;
const serverPtr = (id: number): string => `server-${id}`;

export function showClients(host: AdminHost): ResultSet {
  const rows: Cell[][] = [];
  for (const s of host.clients()) rows.push(clientRow(host, s));
  for (const c of host.consoles()) rows.push(consoleRow(host, c));
  return { columns: CLIENTS_COLUMNS, rows };
}

export function showServers(host: AdminHost): ResultSet {
  const linked = new Map<ServerConnection, ClientSession>();
  for (const s of host.clients()) if (s.server) linked.set(s.server, s);
  const rows: Cell[][] = [];
  for (const pool of host.pools()) {
    for (const conn of pool.idle) rows.push(serverRow(host, pool, conn, 'idle', undefined));
    for (const conn of pool.used) rows.push(serverRow(host, pool, conn, conn.link ? 'active' : 'tested', linked.get(conn)));
  }
  return { columns: SERVERS_COLUMNS, rows };
}

function clientRow(host: AdminHost, s: ClientSession): Cell[] {
  const now = host.clock.now();
  const since = s.waitingSince;
  const waitUs = since === null ? 0 : Math.round(Math.max(0, now - since) * 1000);
  const { id, user, database, tenant } = s.ident;
  return [
    'C',
    user,
    database,
    'none',
    s.state,
    ...ends(s.socket),
    wallTime(host, s.connectedAt),
    wallTime(host, s.lastActivity),
    Math.floor(waitUs / 1_000_000),
    waitUs % 1_000_000,
    0,
    clientPtr(id),
    s.server ? serverPtr(s.server.id) : null,
    0,
    tlsInfo(s.socket),
    s.applicationName,
    host.preparedByClient?.(s) ?? 0,
    id,
    tenant,
    s.state === 'idle' ? null : s.txClass,
    s.bufferedBytes,
  ];
}

function consoleRow(host: AdminHost, c: ConsoleClient): Cell[] {
  const { id, user, database } = c.ident;
  return [
    'C',
    user,
    database,
    'none',
    'active',
    ...ends(c.socket),
    wallTime(host, c.connectedAt),
    wallTime(host, c.lastActivity),
    0,
    0,
    0,
    clientPtr(id),
    null,
    0,
    tlsInfo(c.socket),
    '',
    0,
    id,
    null,
    null,
    c.socket.writableLength,
  ];
}

function serverRow(host: AdminHost, pool: Pool, conn: ServerConnection, state: string, client: ClientSession | undefined): Cell[] {
  return [
    'S',
    pool.settings.target.user,
    pool.database,
    'none',
    state,
    ...ends(conn.socket),
    // close_needed: a reload replaced the pool, so the connection closes when it is handed back.
    wallTime(host, conn.createdAt),
    wallTime(host, conn.lastUsedAt),
    0,
    0,
    pool.retired ? 1 : 0,
    serverPtr(conn.id),
    client ? clientPtr(client.ident.id) : null,
    conn.pid,
    tlsInfo(conn.socket),
    client?.applicationName ?? '',
    host.preparedOnServer?.(conn) ?? 0,
    conn.id,
    client?.ident.tenant ?? null,
    host.pinned?.(conn) ? 1 : 0,
  ];
}

/** addr, port, local_addr, local_port. */
function ends(socket: net.Socket): Cell[] {
  return [socket.remoteAddress ?? null, socket.remotePort ?? null, socket.localAddress ?? null, socket.localPort ?? null];
}

function tlsInfo(socket: net.Socket): string {
  const t = socket as tls.TLSSocket;
  if (!t.encrypted) return '';
  const cipher = t.getCipher?.();
  return [t.getProtocol?.(), cipher?.name].filter(Boolean).join('/');
}

/** A clock reading (monotonic ms) shown as wall time. */
function wallTime(host: AdminHost, at: number): string {
  return timestamp(host.wallNow() - (host.clock.now() - at));
}
