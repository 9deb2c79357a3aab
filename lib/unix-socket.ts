// Owns the listening Unix socket's file: its path, a stale file left by a dead process, and its mode and group.
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import type { UnixSocketSettings } from './config/types.js';

/** `.s.PGSQL.<port>` in the directory, the name libpq looks for; `@dir` is Linux's abstract namespace. */
export function unixSocketPath(s: UnixSocketSettings, port: number): string {
  const file = `.s.PGSQL.${port}`;
  return s.dir.startsWith('@') ? `\0${s.dir.slice(1)}/${file}` : path.join(s.dir, file);
}

/**
 * Removes a socket file no process answers on, as PgBouncer does at start; one that answers means
 * another pooler or Postgres listens there, and the caller's listen then fails with EADDRINUSE.
 */
export async function removeStaleSocket(socketPath: string): Promise<void> {
  if (socketPath.startsWith('\0') || !fs.existsSync(socketPath)) return;
  const live = await new Promise<boolean>((resolve) => {
    const probe = net.connect({ path: socketPath });
    probe.once('connect', () => (probe.destroy(), resolve(true)));
    probe.once('error', () => resolve(false));
  });
  if (!live) fs.rmSync(socketPath, { force: true });
}

/** unix_socket_mode and unix_socket_group on the file, once it exists. */
export function applySocketAccess(socketPath: string, s: UnixSocketSettings, readGroups: () => string = readEtcGroup): void {
  if (socketPath.startsWith('\0')) return;
  fs.chmodSync(socketPath, s.mode);
  if (s.group !== undefined) fs.chownSync(socketPath, -1, groupId(s.group, readGroups));
}

function readEtcGroup(): string {
  return fs.readFileSync('/etc/group', 'utf8');
}

/** A numeric group id, or a name looked up in /etc/group (Node has no getgrnam). */
export function groupId(group: string, readGroups: () => string): number {
  if (/^[0-9]+$/.test(group)) return Number(group);
  for (const line of readGroups().split('\n')) {
    const [name, , gid] = line.split(':');
    if (name === group && gid !== undefined) return Number(gid);
  }
  throw new Error(`unix_socket_group: no group named "${group}" in /etc/group`);
}
