// The YAML of PgBouncer's listening Unix socket settings (unix_socket_dir, unix_socket_mode, unix_socket_group) and their snapshot.
import { z } from 'zod';
import { expecting, text } from './fields.js';
import type { UnixSocketSettings } from './types.js';

const OCTAL_MODE = /^0?[0-7]{3}$/;

export const unixSocketShape = {
  unix_socket_dir: text().optional(),
  // A string, as PgBouncer writes it ("0777"): YAML would read a bare 0777 as the decimal 777.
  unix_socket_mode: z
    .string({ error: expecting('an octal mode such as "0777"') })
    .regex(OCTAL_MODE, { error: expecting('an octal mode such as "0777"') })
    .default('0777'),
  unix_socket_group: text().optional(),
};

type Raw = z.output<z.ZodObject<typeof unixSocketShape>>;

/** The listening socket, or undefined when unix_socket_dir is not set (Sluice's default: TCP only). */
export function buildUnixSocket(raw: Raw): UnixSocketSettings | undefined {
  if (raw.unix_socket_dir === undefined || raw.unix_socket_dir === '') return undefined;
  return Object.freeze({
    dir: raw.unix_socket_dir,
    mode: Number.parseInt(raw.unix_socket_mode, 8),
    ...(raw.unix_socket_group === undefined ? {} : { group: raw.unix_socket_group }),
  });
}
