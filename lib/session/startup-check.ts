// Checks a client's startup settings with Postgres before it is welcomed, so a value Postgres refuses gets Postgres' own FATAL error at login, never a silent drop.
import type { PoolerError } from '../errors.js';
import type { List } from '../list.js';
import type { Pool } from '../pool/pool.js';
import type { ServerConnection } from '../pool/server-connection.js';
import { checkSettings, type SettingsRefusal } from '../pool/state-probe.js';
import type { Waiter } from '../scheduler/scheduler.js';
import type { Grant, Ticket } from '../scheduler/scheduler-nodes.js';

/** Accepted name/value pairs kept per pool; past this the cache starts over, so clients that make up values cannot grow it. */
const MAX_KNOWN = 10_000;

/** What a check needs from the scheduler. */
export interface CheckScheduler {
  acquire(w: Waiter, tenant: string, cls: string): void;
  release(w: Waiter): void;
}

/** The outcome: null when Postgres accepts every setting; Postgres' refusal; or why the check could not run. */
export type CheckDone = (refusal: SettingsRefusal | PoolerError | null) => void;

/** Remembers, per pool, the settings Postgres accepted, so a client whose settings were seen before costs nothing. */
export class StartupChecker {
  private readonly known = new WeakMap<Pool, Set<string>>();

  constructor(private readonly scheduler: CheckScheduler) {}

  /** Calls back at once when every setting is known to be accepted; else tries them on a server connection of the pool. */
  check(pool: Pool, tenant: string, cls: string, settings: ReadonlyMap<string, string>, done: CheckDone): void {
    let known = this.known.get(pool);
    if (!known) this.known.set(pool, (known = new Set()));
    const unknown = new Map<string, string>();
    for (const [name, value] of settings) {
      // Postgres takes any application_name (it truncates and cleans it): clients that vary it cost no check.
      if (name !== 'application_name' && !known.has(pairKey(name, value))) unknown.set(name, value);
    }
    if (unknown.size === 0) return done(null);
    const cache = known;
    this.scheduler.acquire(new SettingsCheck(pool, unknown, this.scheduler, (refusal) => {
      if (refusal === null) {
        if (cache.size + unknown.size > MAX_KNOWN) cache.clear();
        for (const [name, value] of unknown) cache.add(pairKey(name, value));
      }
      done(refusal);
    }), tenant, cls);
  }
}

function pairKey(name: string, value: string): string {
  return `${name}\0${value}`;
}

/** One check: queued like a transaction, it holds a slot and a connection for one statement. */
class SettingsCheck implements Waiter {
  prev: Waiter | null = null;
  next: Waiter | null = null;
  list: List<Waiter> | null = null;
  ticket: Ticket<Waiter> | null = null;
  grant: Grant<Waiter> | null = null;

  constructor(
    readonly pool: Pool,
    private readonly settings: ReadonlyMap<string, string>,
    private readonly scheduler: CheckScheduler,
    private readonly done: CheckDone,
  ) {}

  granted(conn: ServerConnection): void {
    // set_config(…, true) in a statement of its own: its transaction ends with it, so nothing stays.
    checkSettings(conn, this.settings, (refusal) => {
      if (!conn.closed) this.pool.release(conn);
      this.scheduler.release(this);
      this.done(refusal);
    });
  }

  rejected(err: PoolerError): void {
    this.done(err);
  }
}
