// Owns where a server connection goes: a TCP host and port, or Postgres' Unix socket in a directory, as libpq and PgBouncer read `host`.
import type net from 'node:net';
import path from 'node:path';

/** A host beginning with `/` is the directory of Postgres' socket; `@` names one in Linux's abstract namespace. */
export function isUnixHost(host: string): boolean {
  return host.startsWith('/') || host.startsWith('@');
}

/** net.connect's options for a server: `.s.PGSQL.<port>` in the socket directory, or TCP. */
export function serverConnectOptions(host: string, port: number): net.NetConnectOpts {
  if (!isUnixHost(host)) return { host, port, noDelay: true };
  const file = `.s.PGSQL.${port}`;
  return { path: host.startsWith('@') ? `\0${host.slice(1)}/${file}` : path.join(host, file) };
}
