// Asks a server connection which session state it still holds (and which channels it LISTENs on): the ground truth for pinning, for moving LISTENs to the hub, and for returning a connection clean.
import { Backend } from '../protocol/codes.js';
import { decodeErrorFields } from '../protocol/decode.js';
import { literal, textArray } from '../protocol/sql-text.js';
import { UNTIMED, type ServerConnection, type ServerLink } from './server-connection.js';

/** What remains, one readable entry per kind (empty: clean); or why the question could not be answered. */
export type ProbeDone = (remaining: string[] | null, error: string | null, tempSchema?: boolean) => void;

const COUNTS = [
  ['LISTEN', 'SELECT count(*) FROM pg_catalog.pg_listening_channels()'],
  ['advisory locks', `SELECT count(*) FROM pg_catalog.pg_locks WHERE locktype = 'advisory' AND pid = pg_catalog.pg_backend_pid()`],
  [
    'temp objects',
    `SELECT (SELECT count(*) FROM pg_catalog.pg_class WHERE relnamespace = pg_catalog.pg_my_temp_schema())
    + (SELECT count(*) FROM pg_catalog.pg_proc WHERE pronamespace = pg_catalog.pg_my_temp_schema())
    + (SELECT count(*) FROM pg_catalog.pg_type WHERE typnamespace = pg_catalog.pg_my_temp_schema())
    + (SELECT count(*) FROM pg_catalog.pg_statistic_ext WHERE stxnamespace = pg_catalog.pg_my_temp_schema())
    + (SELECT count(*) FROM pg_catalog.pg_operator WHERE oprnamespace = pg_catalog.pg_my_temp_schema())`,
  ],
  ['holdable cursors', 'SELECT count(*) FROM pg_catalog.pg_cursors WHERE is_holdable'],
  ['SQL prepared statements', 'SELECT count(*) FROM pg_catalog.pg_prepared_statements WHERE from_sql'],
] as const;

/** What the probe needs to know beyond the catalog views. */
export interface ProbeScope {
  /** The role the connection logged in as, to notice SET SESSION AUTHORIZATION. */
  loginUser: string;
}

export function probeQuery(scope: ProbeScope): string {
  const counts = COUNTS.map(([, sql]) => `(${sql})`).join(',\n  ');
  // Every other setting follows its client (session/state/params.ts): only the two that cannot are state here.
  // role and session_authorization are hidden from pg_settings.
  return `SELECT ${counts},
  (SELECT pg_catalog.string_agg(name, ', ' ORDER BY name) FROM (
    SELECT 'role' AS name WHERE pg_catalog.current_setting('role') <> 'none'
    UNION ALL SELECT 'session_authorization' WHERE session_user::text <> ${literal(scope.loginUser)}) AS s),
  pg_catalog.pg_my_temp_schema() <> 0`;
}

/**
 * Runs the probe on an idle connection. It links itself for the round trip and restores the previous link
 * before calling back; the caller must not write to the connection meanwhile. If the connection dies, the
 * previous link hears of it as usual.
 */
export function probeSessionState(conn: ServerConnection, scope: ProbeScope, done: ProbeDone): void {
  ask(conn, UNTIMED + probeQuery(scope), (rows, error) => {
    const row = rows?.[rows.length - 1];
    if (error || !row) return done(null, error ?? 'the state probe returned no row');
    const remaining: string[] = [];
    COUNTS.forEach(([what], i) => {
      const n = Number(row[i] ?? 0);
      if (n > 0) remaining.push(`${what} (${n})`);
    });
    const settings = row[COUNTS.length];
    if (settings) remaining.push(`SET ${settings}`);
    // An emptied temp schema is no state to pin for, but the backend is not like a fresh one (see session-reset.ts).
    done(remaining, null, row[COUNTS.length + 1] === 't');
  });
}

/** The channels an idle connection LISTENs on itself (a client's LISTEN reached it); same linking rules as the probe. */
export function listeningChannels(conn: ServerConnection, done: (channels: string[] | null, error: string | null) => void): void {
  ask(conn, UNTIMED + LISTENING_SQL, (rows, error) => done(error ? null : (rows as Row[]).map((r) => r[0] as string), error));
}

const LISTENING_SQL = 'SELECT c FROM pg_catalog.pg_listening_channels() AS c';

/**
 * The session-level values an idle connection holds, by lower-case name: every setting whose source is the
 * session, and the custom settings named (pg_settings does not list them; an empty one counts as unset).
 * Same linking rules as the probe.
 */
export function sessionSettings(
  conn: ServerConnection,
  customs: Iterable<string>,
  functions: readonly string[],
  done: (values: Map<string, string> | null, error: string | null) => void,
): void {
  // Read untimed, the client's own statement_timeout first: SET LOCAL makes it look session-level. It counts
  // as the client's when it differs from what RESET would give (set_config returns that value's spelling).
  // pg_settings does not list custom settings: they are asked for by name, the client's known ones and those
  // the source of the user functions it called sets.
  const sql = `SELECT pg_catalog.current_setting('statement_timeout'); ${UNTIMED}
    SELECT pg_catalog.lower(name), pg_catalog.current_setting(name) FROM pg_catalog.pg_settings WHERE source = 'session'
    UNION ALL SELECT n, pg_catalog.current_setting(n, true) FROM pg_catalog.unnest(${textArray(customs)}) AS n${functions.length > 0 ? customsOf(functions) : ''}
    UNION ALL SELECT NULL, pg_catalog.set_config(name, reset_val, true) FROM pg_catalog.pg_settings WHERE name = 'statement_timeout'`;
  ask(conn, sql, (rows, error) => {
    if (error || !rows || rows.length < 2) return done(null, error ?? 'no rows');
    const values = new Map<string, string>();
    for (const [name, value] of rows.slice(1, -1)) if (name !== null && value !== null && value !== '') values.set(name, value);
    const timeout = rows[0][0];
    values.delete('statement_timeout');
    if (timeout !== null && timeout !== rows[rows.length - 1][1]) values.set('statement_timeout', timeout);
    done(values, null);
  });
}

/**
 * Rows of the custom settings (`a.b`, lower-case) that the source of the named functions sets, through
 * set_config('a.b', …) or SET a.b, with their session values. Any function of the name: which overload ran is
 * not known, and one more name asked for costs nothing.
 */
function customsOf(functions: readonly string[]): string {
  const pattern = literal("set_config\\s*\\(\\s*'([^']+\\.[^']+)'|\\mset\\s+(?:session\\s+)?([a-z_][a-z0-9_$]*\\.[a-z_][a-z0-9_$]*)");
  return `
    UNION ALL SELECT c.n, pg_catalog.current_setting(c.n, true) FROM (SELECT DISTINCT pg_catalog.lower(COALESCE(m[1], m[2])) AS n
      FROM pg_catalog.pg_proc p, pg_catalog.regexp_matches(p.prosrc, ${pattern}, 'gi') AS m
      WHERE p.proname = ANY (${textArray(functions)}) AND p.prolang <> 12 /* internal */) AS c`;
}

/**
 * Puts back the startup values a RESET, RESET ALL or DISCARD ALL took away: each one whose setting no longer
 * has a session-level value (a custom one: is empty) is set again. Calls back with what was set, in order.
 * Same linking rules as the probe.
 */
export function restoreSettings(
  conn: ServerConnection,
  startup: ReadonlyMap<string, string>,
  done: (set: Array<[string, string]> | null, error: string | null) => void,
): void {
  const rows = [...startup].map(([name, value]) => `(${literal(name)}, ${literal(value)})`).join(', ');
  const sql = `SELECT s.n, pg_catalog.set_config(s.n, s.v, false) FROM (VALUES ${rows}) AS s(n, v)
    WHERE CASE WHEN pg_catalog.strpos(s.n, '.') > 0 THEN coalesce(pg_catalog.current_setting(s.n, true), '') = ''
      ELSE NOT EXISTS (SELECT FROM pg_catalog.pg_settings p WHERE pg_catalog.lower(p.name) = s.n AND p.source = 'session') END`;
  ask(conn, sql, (result, error) => done(error || !result ? null : result.map((r) => [r[0] ?? '', r[1] ?? '']), error));
}

/** A Postgres error as the server sent it, or a reason the question could not be asked (sqlstate null). */
export interface SettingsRefusal {
  sqlstate: string | null;
  message: string;
}

/**
 * Whether Postgres accepts these settings, tried with set_config(…, true) in a one-statement transaction
 * that ends with it, so nothing stays. Same linking rules as the probe.
 */
export function checkSettings(
  conn: ServerConnection,
  settings: ReadonlyMap<string, string>,
  done: (refusal: SettingsRefusal | null) => void,
): void {
  const calls = [...settings].map(([name, value]) => `pg_catalog.set_config(${literal(name)}, ${literal(value)}, true)`);
  ask(conn, `${UNTIMED}SELECT ${calls.join(', ')}`, (_rows, error) => {
    if (error === null) return done(null);
    const m = /^([0-9A-Z]{5}): ([\s\S]*)$/.exec(error);
    done(m ? { sqlstate: m[1], message: m[2] } : { sqlstate: null, message: error });
  });
}

export type Row = Array<string | null>;

/** Times a query of Sluice's own is tried when Postgres cancels it (57014). */
const CANCELLED_TRIES = 3;

/**
 * Runs one simple query on an idle connection and hands back its rows as text; same linking rules as the probe.
 * A query canceled by Postgres is tried again: its first statement runs under the client's own
 * statement_timeout until UNTIMED lifts it (a few microseconds, but a loaded machine can stall a backend for
 * longer than a tiny timeout), or a CancelRequest meant for the client's query arrived late. Nothing of a
 * canceled query stays: it ran in a transaction of its own.
 */
export function ask(
  conn: ServerConnection,
  sql: string,
  done: (rows: Row[] | null, error: string | null) => void,
  tries = CANCELLED_TRIES,
): void {
  conn.attach(
    new StateProbe(conn, (rows, error) => {
      if (error?.startsWith('57014') && tries > 1 && !conn.closed) ask(conn, sql, done, tries - 1);
      else done(rows, error);
    }),
  );
  conn.writeOwnQuery(sql);
}

class StateProbe implements ServerLink {
  private readonly chunks: Buffer[] = [];
  private readonly previous: ServerLink | null;

  constructor(
    private readonly conn: ServerConnection,
    private readonly done: (rows: Row[] | null, error: string | null) => void,
  ) {
    this.previous = conn.link;
  }

  batch(): void {}

  serverParameter(): void {}

  serverCopyIn(): void {}

  serverBetweenMessages(): void {}

  serverData(buf: Buffer, start: number, end: number): void {
    this.chunks.push(buf.subarray(start, end));
  }

  serverReady(): void {
    this.restore();
    const reply = Buffer.concat(this.chunks);
    const rows: Row[] = [];
    let error: string | null = null;
    for (let at = 0; at + 5 <= reply.length; at += reply.readInt32BE(at + 1) + 1) {
      if (reply[at] === Backend.DataRow) rows.push(dataRow(reply, at));
      // A backend that LISTENs may deliver a notification before the probe's ReadyForQuery: it is the client's.
      else if (reply[at] === Backend.NotificationResponse) this.previous?.serverData(reply, at, at + reply.readInt32BE(at + 1) + 1);
      else if (reply[at] === Backend.ErrorResponse) {
        const f = decodeErrorFields(reply, at, at + reply.readInt32BE(at + 1) + 1);
        error ??= `${f.code}: ${f.message}`;
      }
    }
    this.done(error ? null : rows, error);
  }

  serverClosed(reason: string, fatalSent: boolean): void {
    this.restore();
    // The probe's own replies went nowhere, but the client's transaction was answered before it: no retry.
    this.previous?.serverClosed(reason, fatalSent, false);
    this.done(null, reason);
  }

  serverFault(err: unknown): void {
    this.restore();
    this.previous?.serverFault(err);
    this.done(null, 'internal error');
  }

  private restore(): void {
    if (this.conn.link !== this) return;
    if (this.previous) this.conn.attach(this.previous);
    else this.conn.detach();
  }
}

/** DataRow columns as text (null for SQL NULL). */
function dataRow(buf: Buffer, at: number): Row {
  const n = buf.readInt16BE(at + 5);
  const out: Row = [];
  let p = at + 7;
  for (let i = 0; i < n; i++) {
    const len = buf.readInt32BE(p);
    p += 4;
    out.push(len < 0 ? null : buf.toString('utf8', p, p + len));
    if (len > 0) p += len;
  }
  return out;
}
