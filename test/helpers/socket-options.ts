// Reads the TCP options of this process's own sockets, found by their ports in /proc/net/tcp, for tests of what Sluice set on them.
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import koffi from 'koffi';

const getsockopt = koffi.load('libc.so.6').func('int getsockopt(int, int, int, _Out_ int *, _Inout_ uint32_t *)') as (
  fd: number,
  level: number,
  name: number,
  value: number[],
  length: number[],
) => number;

export interface SocketOptions {
  keepalive: number;
  keepidle: number;
  keepintvl: number;
  keepcnt: number;
  userTimeout: number;
}

/** Inodes of this machine's TCP sockets whose remote and (if given) local ports match, from /proc/net/tcp and tcp6. */
function inodesByPorts(localPort: number | undefined, remotePort: number): Set<string> {
  const inodes = new Set<string>();
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    for (const line of readFileSync(table, 'utf8').split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      if (f.length < 10) continue;
      const local = Number.parseInt(f[1]!.split(':')[1]!, 16);
      const remote = Number.parseInt(f[2]!.split(':')[1]!, 16);
      if (remote === remotePort && (localPort === undefined || local === localPort)) inodes.add(f[9]!);
    }
  }
  return inodes;
}

/** This process's file descriptors of TCP sockets to remotePort (from localPort, when given). */
export function ownSocketFds(localPort: number | undefined, remotePort: number): number[] {
  const inodes = inodesByPorts(localPort, remotePort);
  const fds: number[] = [];
  for (const fd of readdirSync('/proc/self/fd')) {
    let target: string;
    try {
      target = readlinkSync(`/proc/self/fd/${fd}`);
    } catch {
      continue;
    }
    const m = /^socket:\[(\d+)\]$/.exec(target);
    if (m && inodes.has(m[1]!)) fds.push(Number(fd));
  }
  return fds;
}

/** SO_KEEPALIVE, TCP_KEEPIDLE, TCP_KEEPINTVL, TCP_KEEPCNT and TCP_USER_TIMEOUT of one socket, as the kernel reports them. */
export function socketOptions(fd: number): SocketOptions {
  const read = (level: number, name: number): number => {
    const value = [0];
    if (getsockopt(fd, level, name, value, [4]) !== 0) throw new Error(`getsockopt(${fd}, ${level}, ${name}) failed`);
    return value[0]!;
  };
  return { keepalive: read(1, 9), keepidle: read(6, 4), keepintvl: read(6, 5), keepcnt: read(6, 6), userTimeout: read(6, 18) };
}
