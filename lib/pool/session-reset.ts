// What session mode does after server_reset_query that DISCARD ALL does not: reseeds random(), and closes a connection left with a library a client loaded or a temp schema.
import { randomInt } from 'node:crypto';
import { ask } from './state-probe.js';
import type { ServerConnection } from './server-connection.js';

/**
 * Settings that loaded libraries define (`auto_explain.log_min_duration`): a LOAD adds some, and nothing
 * unloads a library. Procedural languages are left out: any function call loads them, RESET ALL resets
 * their settings, and closing every connection a PL/pgSQL function ran on would end pooling for those clients.
 */
const LIBRARY_SETTINGS = `(SELECT pg_catalog.count(*) FROM pg_catalog.pg_settings
  WHERE name LIKE '%.%' AND pg_catalog.split_part(name, '.', 1) <> ALL (SELECT lanname::text FROM pg_catalog.pg_language))`;

/** Counts the library settings of a connection that just logged in: what a clean one of its pool has. */
export function countLibrarySettings(conn: ServerConnection, done: (count: number | null, error: string | null) => void): void {
  ask(conn, `SELECT ${LIBRARY_SETTINGS}`, (rows, error) => {
    const n = rows?.[0]?.[0];
    done(error || n == null ? null : Number(n), error ?? (n == null ? 'no row' : null));
  });
}

/**
 * Runs after the reset query: reseeds random(), which DISCARD ALL leaves where the last client's setseed put it,
 * and says why the connection cannot be handed on (a library loaded since login, a temp schema), or null when it can.
 */
export function finishReset(conn: ServerConnection, done: (leftover: string | null) => void): void {
  // A seed no client knows, in [-1, 1] with 48 random bits.
  const seed = (randomInt(0, 2 ** 48 - 1) / 2 ** 47 - 1).toFixed(16);
  ask(conn, `SELECT pg_catalog.setseed(${seed}), ${LIBRARY_SETTINGS}, pg_catalog.pg_my_temp_schema() <> 0`, (rows, error) => {
    const [, n, tempSchema] = rows?.[0] ?? [];
    if (error || n == null) return done(`reseeding after server_reset_query failed: ${error ?? 'no row'}`);
    if (conn.librarySettings !== null && Number(n) > conn.librarySettings)
      return done('a client loaded a library (LOAD), which cannot be unloaded');
    // DISCARD ALL empties the temp schema but keeps it, and a backend that has one no longer marks a transaction
    // that only resolves pg_temp (SET search_path TO pg_temp) as touching temp objects: PREPARE TRANSACTION then succeeds.
    if (tempSchema === 't') return done('a client used temp objects: the backend keeps its temp schema');
    done(null);
  });
}
