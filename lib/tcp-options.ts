// Owns PgBouncer's TCP options on a socket: SO_KEEPALIVE, TCP_KEEPIDLE, TCP_KEEPINTVL, TCP_KEEPCNT and TCP_USER_TIMEOUT.
import type net from 'node:net';
import koffi from 'koffi';
import type { TcpSettings } from './config/types.js';

// Linux's values (<sys/socket.h>, <netinet/tcp.h>).
const SOL_SOCKET = 1;
const SO_KEEPALIVE = 9;
const IPPROTO_TCP = 6;
const TCP_KEEPIDLE = 4;
const TCP_KEEPINTVL = 5;
const TCP_KEEPCNT = 6;
const TCP_USER_TIMEOUT = 18;

type SetSockOpt = (fd: number, level: number, name: number, value: number[], length: number) => number;

/**
 * libc's setsockopt, loaded once at import: Node.js can switch keepalive on and set its idle time, but not
 * the probe interval, the probe count nor TCP_USER_TIMEOUT. Null where libc.so.6 is not there (not Linux).
 */
const setsockopt: SetSockOpt | null = loadSetsockopt();

function loadSetsockopt(): SetSockOpt | null {
  if (process.platform !== 'linux') return null;
  try {
    return koffi.load('libc.so.6').func('int setsockopt(int, int, int, _In_ int *, uint32_t)') as SetSockOpt;
  } catch {
    return null;
  }
}

/** Whether every TCP option can be set here; without it only tcp_keepalive and tcp_keepidle apply. */
export const TCP_OPTIONS_SUPPORTED = setsockopt !== null;

/**
 * Sets the options on a connected TCP socket, as PgBouncer's tune_socket does for every client and server
 * socket; a Unix socket is left alone. 0 leaves the OS default. False when the kernel refused one of them.
 */
export function tuneTcp(socket: net.Socket, tcp: TcpSettings): boolean {
  if (socket.remoteFamily !== 'IPv4' && socket.remoteFamily !== 'IPv6') return true;
  const fd = (socket as unknown as { _handle?: { fd?: number } })._handle?.fd;
  if (setsockopt === null || typeof fd !== 'number' || fd < 0) {
    socket.setKeepAlive(tcp.keepalive, tcp.keepidle * 1000);
    return true;
  }
  const set = (level: number, name: number, value: number): boolean => setsockopt(fd, level, name, [value], 4) === 0;
  let ok = set(SOL_SOCKET, SO_KEEPALIVE, tcp.keepalive ? 1 : 0);
  if (tcp.keepalive && tcp.keepidle > 0) ok = set(IPPROTO_TCP, TCP_KEEPIDLE, tcp.keepidle) && ok;
  if (tcp.keepalive && tcp.keepintvl > 0) ok = set(IPPROTO_TCP, TCP_KEEPINTVL, tcp.keepintvl) && ok;
  if (tcp.keepalive && tcp.keepcnt > 0) ok = set(IPPROTO_TCP, TCP_KEEPCNT, tcp.keepcnt) && ok;
  if (tcp.user_timeout > 0) ok = set(IPPROTO_TCP, TCP_USER_TIMEOUT, tcp.user_timeout) && ok;
  return ok;
}
