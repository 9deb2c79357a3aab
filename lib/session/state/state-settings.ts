// After a client's transaction: reads back the connection's session-level settings (they are the client's own), and puts back the startup values a RESET took away.
import * as encode from '../../protocol/encode.js';
import type { Pool } from '../../pool/pool.js';
import type { ServerConnection } from '../../pool/server-connection.js';
import { restoreSettings, sessionSettings } from '../../pool/state-probe.js';

/** The session as these steps see it. */
export interface SettingsHost {
  readonly pool: Pool;
  toClient(frame: Buffer): void;
  /** Custom settings (`myapp.x`) the client uses: the read-back asks for them by name. */
  readonly customSettings: ReadonlySet<string>;
  /** The connection's session-level settings, read back after a transaction that may have changed them: the client's own from now on. */
  settingsReadBack(values: ReadonlyMap<string, string>): void;
  /** The settings of the client's startup packet, by lower-case name: what RESET returns to. */
  readonly startupSettings: ReadonlyMap<string, string>;
}

/** Called back with false when the connection closed (or was closed, its settings unknown): it serves nobody else. */
export type StepDone = (ok: boolean) => void;

/**
 * Reads back the connection's session-level settings: the client keeps them as its own, and the connection
 * is known to hold them, so the next client gets its own values or the defaults. Reading after the
 * transaction gets SET LOCAL, a rollback and a function's own SET clause right, as Postgres applied them.
 * functions: user functions the transaction called, whose source may name custom settings it set.
 */
export function readBack(conn: ServerConnection, host: SettingsHost, functions: readonly string[], done: StepDone): void {
  sessionSettings(conn, host.customSettings, functions, (values, error) => {
    if (!usable(conn, values, `could not read back session settings: ${error}`, done)) return;
    host.settingsReadBack(values as Map<string, string>);
    conn.applied.clear();
    for (const [name, value] of values as Map<string, string>) if (!conn.values.has(name)) conn.applied.set(name, value);
    conn.paramsEpoch++;
    done(true);
  });
}

/**
 * RESET sends Postgres to the server's default; a Postgres session would go to its startup value. So the
 * startup values a RESET took away are set again, and the client is told of the reported ones, as Postgres
 * tells it of any change. Until this runs (the rest of the RESET's own transaction) the server default shows.
 */
export function restoreStartup(conn: ServerConnection, host: SettingsHost, done: StepDone): void {
  restoreSettings(conn, host.startupSettings, (set, error) => {
    if (!usable(conn, set, `could not put back startup settings: ${error}`, done)) return;
    for (const [name, value] of set as Array<[string, string]>) {
      if (conn.values.has(name)) host.toClient(encode.parameterStatus(reportedName(host.pool, name), value));
      else conn.applied.set(name, value);
    }
    conn.paramsEpoch++;
    done(true);
  });
}

/** The answer came on a live connection; else the connection is (or is made) closed: its settings are unknown. */
function usable(conn: ServerConnection, answer: unknown, why: string, done: StepDone): boolean {
  if (conn.closed) {
    done(false);
    return false;
  }
  if (answer !== null) return true;
  conn.close(why);
  done(false);
  return false;
}

/** A reported parameter as the server spells it (DateStyle): the pool's login saw every one. */
function reportedName(pool: Pool, name: string): string {
  for (const key of pool.params?.keys() ?? []) if (key.toLowerCase() === name) return key;
  return name;
}
