// Which settings follow a client across server connections (its startup values and its own session changes), and the SQL that re-applies them.
import { literal } from '../../protocol/sql-text.js';

/** A server connection's view of its own settings, by lower-case name. */
export interface ServerParamState {
  /** Values the server reported through ParameterStatus. */
  readonly values: Map<string, string>;
  /**
   * Session values Sluice knows this connection holds for settings the server does not report: what it
   * applied for a client, or read back after a client's transaction. RESET when the next client does not want them.
   */
  readonly applied: Map<string, string>;
  /**
   * Bumped on every change of `values` (each ParameterStatus). With it, ClientParams remembers the last
   * check that found nothing to do (the `clean*` fields), and skips the same check next time.
   */
  readonly paramsEpoch?: number;
  /** The wanted parameters (as ClientParams' key) last found to need nothing here, at this epoch and applied size. */
  cleanKey?: string | null;
  cleanEpoch?: number;
  cleanApplied?: number;
}

/**
 * Reported settings no client can SET: Postgres reports them (is_superuser after SET ROLE, say), but they
 * follow from the server or from who the session is, so they are never a client's own value to carry.
 */
const NOT_SETTABLE: ReadonlySet<string> = new Set([
  'server_version',
  'server_encoding',
  'integer_datetimes',
  'in_hot_standby',
  'is_superuser',
  'session_authorization',
  'role',
]);

/** set_config calls per PERFORM, below Postgres' limit of 1664 target columns. */
const MAX_CALLS = 1000;

/** A setting's name for RESET, each dotted part quoted: a name from a startup packet cannot end the statement. */
export function settingIdentifier(name: string): string {
  return name
    .split('.')
    .map((part) => `"${part.replace(/"/g, '""')}"`)
    .join('.');
}

/**
 * SQL that makes the server's settings match the client's, or null when they already do. endsBackend (transaction
 * mode): one DO block that applies every value or ends its own backend. Sluice writes the client's frames right behind it, in the same
 * write, so a sync that fails must stop them: when a value fails, the handler tells Sluice which (a WARNING
 * with Postgres' own message and SQLSTATE) and terminates its own backend, whose FATAL Postgres raises before
 * it reads the next message. A session may always signal its own backend. The client's frames then go to
 * another connection (FirstFrames.resend). set_config parses the value the way postgresql.conf does, so list
 * values such as search_path survive. Otherwise (session mode, where nothing follows the sync until it is
 * answered) plain SELECTs of set_config calls, which load no PL/pgSQL into a client's own backend.
 */
export function paramSyncQuery(wanted: ReadonlyMap<string, string>, server: ServerParamState, endsBackend = true): string | null {
  const verb = endsBackend ? 'PERFORM' : 'SELECT';
  let body = '';
  let calls = 0;
  for (const [name, value] of wanted) {
    const current = server.values.get(name) ?? server.applied.get(name);
    if (current === value || NOT_SETTABLE.has(name)) continue;
    const call = `pg_catalog.set_config(${literal(name)}, ${literal(value)}, false)`;
    // A SELECT (PERFORM) takes at most 1664 columns: a client with more settings gets several.
    body += calls % MAX_CALLS === 0 ? `${calls === 0 ? '' : '; '}${verb} ${call}` : `, ${call}`;
    calls++;
    if (!server.values.has(name)) server.applied.set(name, value);
  }
  if (server.applied.size > 0) {
    for (const name of server.applied.keys()) {
      if (wanted.has(name)) continue;
      body += `${body === '' ? '' : '; '}RESET ${settingIdentifier(name)}`;
      server.applied.delete(name);
    }
  }
  if (body === '') return null;
  return endsBackend ? `DO ${literal(`BEGIN ${body}; ${ON_FAILURE_END_BACKEND}`)}` : body;
}

/**
 * The sync's handler: Sluice learns why (the WARNING; client_min_messages may be a client's `error`), then the
 * backend ends itself. query_canceled is named because OTHERS does not catch it.
 */
const ON_FAILURE_END_BACKEND =
  "EXCEPTION WHEN OTHERS OR query_canceled THEN PERFORM pg_catalog.set_config('client_min_messages', 'warning', true); " +
  'RAISE WARNING USING MESSAGE = SQLERRM, ERRCODE = SQLSTATE; ' +
  'PERFORM pg_catalog.pg_terminate_backend(pg_catalog.pg_backend_pid()); END';

/**
 * The settings one client wants, carried from each server connection it uses to the next: its startup
 * values (the pool's reported defaults under the startup packet's parameters and `options`), overlaid by the
 * session values it set itself, as read back from the server.
 */
export class ClientParams {
  /** By lower-case name: `startup` overlaid by `session`. */
  readonly wanted = new Map<string, string>();
  /** What RESET returns to, as Postgres returns to a session's startup values. */
  private readonly startup = new Map<string, string>();
  /** The client's startup packet's settings that differ from the pool's defaults: what a RESET must bring back. */
  readonly own = new Map<string, string>();
  /** Session values of the client's own: reported by the server, or read back after a transaction. */
  private readonly session = new Map<string, string>();
  /** Custom settings (`myapp.x`) this client uses: pg_settings does not list them, so the read-back names them. */
  private readonly customNames = new Set<string>();
  /** `wanted` as one string, so two clients wanting the same compare with one string comparison. */
  private key: string | null = null;
  /** The pool's reported defaults, by lower-case name. */
  private readonly defaults = new Map<string, string>();

  /** The pool's defaults first, so a value another client left on a server is put back; the client's startup settings on top. */
  constructor(poolParams: ReadonlyMap<string, string> | null, startupParams: ReadonlyMap<string, string>) {
    for (const [k, v] of poolParams ?? []) this.defaults.set(k.toLowerCase(), v);
    for (const [k, v] of this.defaults) this.startup.set(k, v);
    for (const [k, v] of startupParams) {
      const name = k.toLowerCase();
      // A value the server's own login already has (client_encoding UTF8, say) is what RESET gives anyway.
      if (this.startup.get(name) !== v) this.own.set(name, v);
      this.startup.set(name, v);
      if (name.includes('.')) this.customNames.add(name);
    }
    for (const [k, v] of this.startup) this.wanted.set(k, v);
  }

  get(name: string): string | undefined {
    return this.wanted.get(name);
  }

  /** Custom setting names the read-back asks for by name. */
  get customs(): ReadonlySet<string> {
    return this.customNames;
  }

  /** A custom setting the client's statements name. */
  useCustom(name: string): void {
    this.customNames.add(name.toLowerCase());
  }

  /** A ParameterStatus from the server (the client ran SET): the client's own value from now on. */
  set(name: string, value: string): void {
    const key = name.toLowerCase();
    if (NOT_SETTABLE.has(key)) return;
    this.session.set(key, value);
    if (this.wanted.get(key) !== value) {
      this.wanted.set(key, value);
      this.key = null;
    }
  }

  /**
   * The connection's session-level values, read back after a transaction that may have changed them: they
   * are the client's own from now on. A setting not among them was RESET (or never set), so its startup value
   * comes back, as RESET returns a Postgres session to its startup values.
   */
  readBack(values: ReadonlyMap<string, string>): void {
    this.session.clear();
    for (const [name, value] of values) {
      this.session.set(name, value);
      // Found through a function's source: asked for by name from now on, as if the client had named it.
      if (name.includes('.')) this.customNames.add(name);
    }
    this.wanted.clear();
    for (const [name, value] of this.startup) this.wanted.set(name, value);
    for (const [name, value] of this.session) this.wanted.set(name, value);
    this.key = null;
  }

  /**
   * A value Postgres refused to apply on another server connection: it no longer follows the client, which
   * gets the pool's default for it (the client is told so with SLUICE_SETTING_NOT_APPLIED).
   */
  forget(name: string): void {
    const key = name.toLowerCase();
    this.session.delete(key);
    this.own.delete(key);
    const fallback = this.defaults.get(key);
    if (fallback === undefined) {
      this.startup.delete(key);
      this.wanted.delete(key);
    } else {
      this.startup.set(key, fallback);
      this.wanted.set(key, fallback);
    }
    this.key = null;
  }

  /** ParameterStatus values this client should be told at login: the pool's, with its own choices on top. */
  welcome(poolParams: ReadonlyMap<string, string> | null): Map<string, string> {
    const out = new Map(poolParams ?? []);
    for (const [k, _v] of out) {
      const mine = this.wanted.get(k.toLowerCase());
      if (mine !== undefined) out.set(k, mine);
    }
    return out;
  }

  /**
   * SQL that makes a server connection match, or null. A connection whose values and applied set are
   * unchanged since it last needed nothing for the same wanted parameters needs nothing again: the
   * answer depends on those inputs only, so the walk over them is skipped (it ran on every grant).
   */
  syncQuery(server: ServerParamState, endsBackend = true): string | null {
    const epoch = server.paramsEpoch;
    if (epoch === undefined) return paramSyncQuery(this.wanted, server, endsBackend);
    const key = (this.key ??= keyOf(this.wanted));
    if (server.cleanKey === key && server.cleanEpoch === epoch && server.cleanApplied === server.applied.size) return null;
    const sql = paramSyncQuery(this.wanted, server, endsBackend);
    server.cleanKey = sql === null ? key : null;
    server.cleanEpoch = epoch;
    server.cleanApplied = server.applied.size;
    return sql;
  }

  /** Adopts the server's spelling after a sync ('iso' comes back as 'ISO, MDY'), or every later grant would re-apply it. */
  adopt(server: ServerParamState): void {
    for (const [name, mine] of this.wanted) {
      const theirs = server.values.get(name);
      if (theirs === undefined || theirs === mine) continue;
      this.wanted.set(name, theirs);
      if (this.startup.get(name) === mine) this.startup.set(name, theirs);
      if (this.session.has(name)) this.session.set(name, theirs);
      this.key = null;
    }
  }
}

/** Names and values in order; neither can hold a NUL (protocol strings end at one). */
function keyOf(wanted: ReadonlyMap<string, string>): string {
  let key = '';
  for (const [name, value] of wanted) key += `${name}=${value}\0`;
  return key;
}
