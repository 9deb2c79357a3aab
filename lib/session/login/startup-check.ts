// Checks a client's startup settings with Postgres before it is welcomed, so a value Postgres refuses gets Postgres' own FATAL error at login, never a silent drop.
import type { Pool } from '../../pool/pool.js';
import { ServerConnection } from '../../pool/server-connection.js';
import { loginToServer, type LoginResult, type ServerTarget } from '../../pool/server-login.js';
import { checkSettings, type SettingsRefusal } from '../../pool/state-probe.js';

/** Accepted name/value pairs kept per pool; past this the cache starts over, so clients that make up values cannot grow it. */
const MAX_KNOWN = 10_000;

/** The outcome: null when Postgres accepts every setting; else Postgres' refusal, or why the check could not run (sqlstate null). */
export type CheckDone = (refusal: SettingsRefusal | null) => void;

/** How a check reaches Postgres: a login of its own (tests give a fake). */
export type CheckLogin = (target: ServerTarget) => Promise<LoginResult>;

/**
 * Remembers, per pool, the settings Postgres accepted, so a client whose settings were seen before costs
 * nothing. New ones are tried on an idle connection of the pool, or, when none is idle, on a connection of
 * the check's own: a check takes no scheduler slot (a tenant may have none) and counts as no transaction.
 * Clients that arrive with the same new settings while they are checked wait for the same check.
 */
export class StartupChecker {
  private readonly known = new WeakMap<Pool, Set<string>>();
  private readonly running = new WeakMap<Pool, Map<string, CheckDone[]>>();

  constructor(
    private readonly now: () => number,
    private readonly login: CheckLogin = loginToServer,
  ) {}

  /** Calls back at once when every setting is known to be accepted; else tries them on a connection of its own. */
  check(pool: Pool, settings: ReadonlyMap<string, string>, done: CheckDone): void {
    let known = this.known.get(pool);
    if (!known) this.known.set(pool, (known = new Set()));
    const unknown = new Map<string, string>();
    const defaults = pool.params;
    for (const [name, value] of settings) {
      // Postgres takes any application_name (it truncates and cleans it): clients that vary it cost no check.
      if (name === 'application_name' || known.has(pairKey(name, value))) continue;
      // A value the pool's own login reported (client_encoding UTF8, as drivers send it) is valid as it is.
      if (defaults && [...defaults].some(([k, v]) => v === value && k.toLowerCase() === name)) continue;
      unknown.set(name, value);
    }
    if (unknown.size === 0) return done(null);
    let running = this.running.get(pool);
    if (!running) this.running.set(pool, (running = new Map()));
    const key = [...unknown].map(([n, v]) => pairKey(n, v)).join('\0\0');
    const waiting = running.get(key);
    if (waiting) return void waiting.push(done);
    const callbacks = [done];
    running.set(key, callbacks);
    const cache = known;
    const finish = (refusal: SettingsRefusal | null): void => {
      running.delete(key);
      if (refusal === null) {
        if (cache.size + unknown.size > MAX_KNOWN) cache.clear();
        for (const [name, value] of unknown) cache.add(pairKey(name, value));
      }
      for (const cb of callbacks) cb(refusal);
    };
    const idle = pool.takeIdle();
    if (!idle) return this.onOwnConnection(pool.settings.target, unknown, finish);
    // An idle connection of the pool, for one statement: nothing stays on it, and it goes back at once.
    checkSettings(idle, unknown, (refusal) => {
      if (!idle.closed) pool.release(idle);
      finish(refusal);
    });
  }

  private onOwnConnection(target: ServerTarget, settings: ReadonlyMap<string, string>, finish: CheckDone): void {
    this.login(target)
      .then(
        (login) => {
          const conn = new ServerConnection(0, login, this.now(), () => undefined);
          // set_config(…, true) in a statement of its own: nothing would stay, and the connection goes anyway.
          checkSettings(conn, settings, (refusal) => {
            conn.close('startup settings checked');
            finish(refusal);
          });
        },
        (err: Error) => finish({ sqlstate: null, message: err.message }),
      )
      .catch((err: unknown) => finish({ sqlstate: null, message: err instanceof Error ? err.message : String(err) }));
  }
}

function pairKey(name: string, value: string): string {
  return `${name}\0${value}`;
}
