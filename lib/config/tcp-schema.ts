// The YAML of PgBouncer's TCP settings (tcp_keepalive, tcp_keepidle, tcp_keepintvl, tcp_keepcnt, tcp_user_timeout) and their snapshot.
import type { z } from 'zod';
import { flag, integer } from './fields.js';
import type { TcpSettings } from './types.js';

/** Linux's own bounds for TCP_KEEPIDLE and TCP_KEEPINTVL (seconds) and TCP_KEEPCNT (probes). */
const MAX_KEEP_SECONDS = 32767;
const MAX_KEEPCNT = 127;
const MAX_USER_TIMEOUT_MS = 2 ** 31 - 1;

/** PgBouncer's defaults: keepalive on with the OS's timings, no user timeout. 0 leaves the OS default. */
export const TCP_DEFAULTS: TcpSettings = Object.freeze({ keepalive: true, keepidle: 0, keepintvl: 0, keepcnt: 0, user_timeout: 0 });

export const tcpShape = {
  tcp_keepalive: flag(TCP_DEFAULTS.keepalive),
  // Seconds, and tcp_user_timeout milliseconds, as PgBouncer takes them: whole units the kernel takes.
  tcp_keepidle: integer(0, MAX_KEEP_SECONDS).default(TCP_DEFAULTS.keepidle),
  tcp_keepintvl: integer(0, MAX_KEEP_SECONDS).default(TCP_DEFAULTS.keepintvl),
  tcp_keepcnt: integer(0, MAX_KEEPCNT).default(TCP_DEFAULTS.keepcnt),
  tcp_user_timeout: integer(0, MAX_USER_TIMEOUT_MS).default(TCP_DEFAULTS.user_timeout),
};

type Raw = z.output<z.ZodObject<typeof tcpShape>>;

export function buildTcp(raw: Raw): TcpSettings {
  return Object.freeze({
    keepalive: raw.tcp_keepalive,
    keepidle: raw.tcp_keepidle,
    keepintvl: raw.tcp_keepintvl,
    keepcnt: raw.tcp_keepcnt,
    user_timeout: raw.tcp_user_timeout,
  });
}
