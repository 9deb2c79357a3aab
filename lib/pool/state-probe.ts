// Asks a server connection which session state it still holds (and which channels it LISTENs on): the ground truth for pinning, for moving LISTENs to the hub, and for returning a connection clean.
import { serialize } from '../protocol/pg-protocol.js';
import { Backend } from '../protocol/codes.js';
import { decodeErrorFields } from '../protocol/decode.js';
import type { ServerConnection, ServerLink } from './server-connection.js';

/** What remains, one readable entry per kind (empty: clean); or why the question could not be answered. */
export type ProbeDone = (remaining: string[] | null, error: string | null) => void;

const COUNTS = [
  ['LISTEN', 'SELECT count(*) FROM pg_catalog.pg_listening_channels()'],
  ['advisory locks', `SELECT count(*) FROM pg_catalog.pg_locks WHERE locktype = 'advisory' AND pid = pg_catalog.pg_backend_pid()`],
  ['temp objects', `SELECT (SELECT count(*) FROM pg_catalog.pg_class WHERE relnamespace = pg_catalog.pg_my_temp_schema())
    + (SELECT count(*) FROM pg_catalog.pg_proc WHERE pronamespace = pg_catalog.pg_my_temp_schema())`],
  ['holdable cursors', 'SELECT count(*) FROM pg_catalog.pg_cursors WHERE is_holdable'],
  ['SQL prepared statements', 'SELECT count(*) FROM pg_catalog.pg_prepared_statements WHERE from_sql'],
] as const;

/** What the probe needs to know beyond the catalog views. */
export interface ProbeScope {
  /** Parameters Sluice itself re-applies for each client: their session values are not state. */
  carried: Iterable<string>;
  /** The role the connection logged in as, to notice SET SESSION AUTHORIZATION. */
  loginUser: string;
  /** Custom settings (`app.user`) the client set: pg_settings does not list such placeholders. */
  custom: Iterable<string>;
}

export function probeQuery(scope: ProbeScope): string {
  const counts = COUNTS.map(([, sql]) => `(${sql})`).join(',\n  ');
  // role and session_authorization are hidden from pg_settings, and so are custom placeholders.
  return `SELECT ${counts},
  (SELECT pg_catalog.string_agg(name, ', ' ORDER BY name) FROM (
    SELECT name FROM pg_catalog.pg_settings
      WHERE source = 'session' AND pg_catalog.lower(name) <> ALL (${textArray(scope.carried)})
    UNION ALL SELECT 'role' WHERE pg_catalog.current_setting('role') <> 'none'
    UNION ALL SELECT 'session_authorization' WHERE session_user::text <> ${literal(scope.loginUser)}
    UNION ALL SELECT n FROM pg_catalog.unnest(${textArray(scope.custom)}) AS n
      WHERE coalesce(pg_catalog.current_setting(n, true), '') <> '') AS s)`;
}

/**
 * Runs the probe on an idle connection. It links itself for the round trip and restores the previous link
 * before calling back; the caller must not write to the connection meanwhile. If the connection dies, the
 * previous link hears of it as usual.
 */
export function probeSessionState(conn: ServerConnection, scope: ProbeScope, done: ProbeDone): void {
  ask(conn, probeQuery(scope), (rows, error) => {
    const row = rows?.[rows.length - 1];
    if (error || !row) return done(null, error ?? 'the state probe returned no row');
    const remaining: string[] = [];
    COUNTS.forEach(([what], i) => {
      const n = Number(row[i] ?? 0);
      if (n > 0) remaining.push(`${what} (${n})`);
    });
    const settings = row[COUNTS.length];
    if (settings) remaining.push(`SET ${settings}`);
    done(remaining, null);
  });
}

/** The channels an idle connection LISTENs on itself (a client's LISTEN reached it); same linking rules as the probe. */
export function listeningChannels(conn: ServerConnection, done: (channels: string[] | null, error: string | null) => void): void {
  ask(conn, LISTENING_SQL, (rows, error) => done(error ? null : (rows as Row[]).map((r) => r[0] as string), error));
}

const LISTENING_SQL = 'SELECT c FROM pg_catalog.pg_listening_channels() AS c';

/** The current values of these settings on an idle connection, in order; same linking rules as the probe. */
export function currentSettings(conn: ServerConnection, names: readonly string[], done: (values: string[] | null, error: string | null) => void): void {
  const sql = `SELECT ${names.map((n) => `pg_catalog.current_setting(${literal(n)})`).join(', ')}`;
  ask(conn, sql, (rows, error) => {
    const row = rows?.[rows.length - 1];
    if (error || !row) return done(null, error ?? 'no row');
    done(row.map((v) => v ?? ''), null);
  });
}

export type Row = Array<string | null>;

/** Runs one simple query on an idle connection and hands back its rows as text; same linking rules as the probe. */
export function ask(conn: ServerConnection, sql: string, done: (rows: Row[] | null, error: string | null) => void): void {
  conn.attach(new StateProbe(conn, done));
  conn.write(serialize.query(sql));
}

function literal(s: string): string {
  return `'${s.replace(/'/g, "''")}'`;
}

function textArray(items: Iterable<string>): string {
  return `ARRAY[${[...items].map(literal).join(', ')}]::text[]`;
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
