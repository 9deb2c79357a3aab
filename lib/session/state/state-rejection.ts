// Replacement messages that make the server itself fail a rejected statement, for when other requests are still ahead of it.
import { serialize } from '../../protocol/pg-protocol.js';
import type { PoolerError } from '../../errors.js';
import { literal } from '../../protocol/sql-text.js';

/**
 * A Query that raises the rejection with its own SQLSTATE and message. Run by the server, it comes back in
 * the order the client sent it and leaves the transaction status exactly as a failed statement would.
 */
export function rejectionQuery(err: PoolerError): Buffer {
  const message = literal(err.message.replace(/\$/g, ''));
  return serialize.query(`DO $sluice$BEGIN RAISE EXCEPTION USING ERRCODE = '${err.sqlstate}', MESSAGE = ${message}; END$sluice$`);
}

/**
 * A Parse (same statement name) that the server refuses while parsing, so the rest of the batch is skipped
 * up to Sync as for any failed Parse. The SQLSTATE is then 22P02; the message carries the rejection.
 */
export function rejectionParse(name: string, err: PoolerError): Buffer {
  return serialize.parse({ name, text: `SELECT ${literal(`Sluice: ${err.message}`)}::pg_catalog.int4`, types: [] });
}
