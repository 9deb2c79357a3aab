// Which session parameters follow a client across server connections, and the SQL that re-applies them.

/** Parameters a client may change that the pooler carries from one server connection to the next. */
export const TRACKED_PARAMS: ReadonlySet<string> = new Set([
  'client_encoding',
  'datestyle',
  'timezone',
  'intervalstyle',
  'standard_conforming_strings',
  'application_name',
  'search_path',
  'extra_float_digits',
]);

/** A server connection's view of its own parameters, by lower-case name. */
export interface ServerParamState {
  /** Values the server reported through ParameterStatus. */
  readonly values: Map<string, string>;
  /** Tracked parameters we set that the server does not report; reset when the next client does not want them. */
  readonly applied: Map<string, string>;
}

/** An E'' literal, so a client that turned standard_conforming_strings off cannot make a backslash end it early. */
function literal(s: string): string {
  return `E'${s.replace(/\\/g, '\\\\').replace(/'/g, "''")}'`;
}

/**
 * SQL that makes the server's tracked parameters match the client's, or null when they already do.
 * set_config parses the value the way postgresql.conf does, so list values such as search_path survive.
 */
export function paramSyncQuery(wanted: ReadonlyMap<string, string>, server: ServerParamState): string | null {
  let select: string | null = null;
  for (const [name, value] of wanted) {
    const current = server.values.get(name) ?? server.applied.get(name);
    if (current === value) continue;
    const call = `pg_catalog.set_config(${literal(name)}, ${literal(value)}, false)`;
    select = select === null ? `SELECT ${call}` : `${select}, ${call}`;
    if (!server.values.has(name)) server.applied.set(name, value);
  }
  let resets = '';
  if (server.applied.size > 0) {
    for (const name of server.applied.keys()) {
      if (wanted.has(name)) continue;
      resets += `; RESET ${name}`;
      server.applied.delete(name);
    }
  }
  if (select === null && resets === '') return null;
  return select === null ? resets.slice(2) : select + resets;
}

/** The tracked parameters one client wants, carried from each server connection it uses to the next. */
export class ClientParams {
  /** By lower-case name. */
  readonly wanted = new Map<string, string>();

  /** The pool's defaults first, so a value another client left on a server is put back; the client's startup choices on top. */
  constructor(poolParams: ReadonlyMap<string, string> | null, startupParams: ReadonlyMap<string, string>) {
    for (const [k, v] of poolParams ?? []) this.set(k, v);
    for (const [k, v] of startupParams) this.set(k, v);
  }

  get(name: string): string | undefined {
    return this.wanted.get(name);
  }

  /** A ParameterStatus from the server (the client ran SET): remembered if tracked. */
  set(name: string, value: string): void {
    const key = name.toLowerCase();
    if (TRACKED_PARAMS.has(key)) this.wanted.set(key, value);
  }

  /** ParameterStatus values this client should be told at login: the pool's, with its own choices on top. */
  welcome(poolParams: ReadonlyMap<string, string> | null): Map<string, string> {
    const out = new Map(poolParams ?? []);
    for (const [k, v] of out) {
      const mine = this.wanted.get(k.toLowerCase());
      if (mine !== undefined) out.set(k, mine);
    }
    return out;
  }

  /** SQL that makes a server connection match, or null. */
  syncQuery(server: ServerParamState): string | null {
    return paramSyncQuery(this.wanted, server);
  }

  /** Adopts the server's spelling after a sync ('iso' comes back as 'ISO, MDY'), or every later grant would re-apply it. */
  adopt(server: ServerParamState): void {
    for (const [name, mine] of this.wanted) this.wanted.set(name, server.values.get(name) ?? mine);
  }
}
