// Which message types a logged-in client may send, and the error for one it may not.
import { Frontend } from '../protocol/codes.js';
import { poolerError, type PoolerError } from '../errors.js';

const CLIENT_TYPES = [
  Frontend.Bind,
  Frontend.Close,
  Frontend.CopyDone,
  Frontend.CopyFail,
  Frontend.CopyData,
  Frontend.Describe,
  Frontend.Execute,
  Frontend.Flush,
  Frontend.FunctionCall,
  Frontend.Parse,
  Frontend.Password,
  Frontend.Query,
  Frontend.Sync,
  Frontend.Terminate,
];

/** 1 for every type a client may send after login. */
export const KNOWN_CLIENT_TYPES = new Uint8Array(256);
for (const t of CLIENT_TYPES) KNOWN_CLIENT_TYPES[t] = 1;

/** Types the frame scanner shows the session: all but CopyData, so an unknown type is refused instead of relayed to Postgres. */
export const INSPECTED_CLIENT_TYPES: readonly number[] = Array.from({ length: 256 }, (_, t) => t).filter((t) => t !== Frontend.CopyData);

/** A type byte as a person reads it in an error: 'X' when printable, else hex. */
export function describeType(type: number): string {
  return type >= 0x20 && type < 0x7f ? `'${String.fromCharCode(type)}'` : `0x${type.toString(16).padStart(2, '0')}`;
}

/** The protocol error for a message a logged-in client may not send, or null when it may (then it is relayed). */
export function refusalOf(type: number): PoolerError | null {
  if (type === Frontend.Password) return poolerError('SLUICE_BAD_PACKET', { reason: 'password message outside authentication' });
  return KNOWN_CLIENT_TYPES[type] === 1 ? null : poolerError('SLUICE_UNKNOWN_MESSAGE', { type: describeType(type) });
}
