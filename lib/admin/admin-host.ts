// What the admin console may read and control: the pooler's live objects, handed over by the composition root.
import type net from 'node:net';
import type { Clock } from '../clock.js';
import type { SluiceConfig } from '../config/types.js';
import type { PoolerError } from '../errors.js';
import type { Pool } from '../pool/pool.js';
import type { PoolStats } from '../pool/pool-stats.js';
import type { ServerConnection } from '../pool/server-connection.js';
import type { Scheduler } from '../scheduler/scheduler.js';
import type { LongShape } from '../session/classify/lane-learner.js';
import type { ClientSession } from '../session/client-session.js';

/** SHUTDOWN's variants, as PgBouncer names them; SIGTERM is wait_for_servers, SIGINT immediate. */
export type ShutdownMode = 'immediate' | 'wait_for_servers' | 'wait_for_clients';

/** An admin console connection, as SHOW CLIENTS lists it and KILL_CLIENT ends it. */
export interface ConsoleClient {
  readonly ident: { readonly id: number; readonly user: string; readonly database: string; readonly admin: boolean };
  readonly socket: net.Socket;
  readonly connectedAt: number;
  readonly lastActivity: number;
  /** Sends err (FATAL) and closes. */
  kill(err: PoolerError): void;
}

export interface AdminHost {
  readonly clock: Clock;
  readonly scheduler: Scheduler;
  /** The learned long lane's statement shapes now in the long class, slowest first (SHOW CLASSES). */
  longShapes(): LongShape[];
  /** The configuration in force (it changes on reload). */
  config(): SluiceConfig;
  /** Wall-clock milliseconds, for timestamps shown to people. */
  wallNow(): number;
  /** Every pool with server connections, including pools a reload replaced that are still draining. */
  pools(): Iterable<Pool>;
  clients(): Iterable<ClientSession>;
  consoles(): Iterable<ConsoleClient>;
  /** Accepted connections that have not finished logging in. */
  loginCount(): number;
  /** The SHOW STATS counters of a database, once it has had a pool. */
  statsOf(database: string): PoolStats | undefined;
  /**
   * Calls done() once test() holds: at once if it already does, else re-checked whenever a server
   * connection is released, closed or opened. Returns a function that drops the wait.
   */
  when(test: () => boolean, done: () => void): () => void;
  /** Re-reads the configuration file exactly as SIGHUP does; throws SLUICE_ADMIN_RELOAD_FAILED when it cannot. */
  reload(): void;
  shutdown(mode: ShutdownMode): void;
  readonly shuttingDown: boolean;
  /**
   * Getters that prepared-statement tracking and session pinning fill in when they land; while they are
   * absent the console shows 0 prepared statements and no pinned connections.
   */
  preparedOnServer?(conn: ServerConnection): number;
  preparedByClient?(client: ClientSession): number;
  pinned?(conn: ServerConnection): boolean;
}
