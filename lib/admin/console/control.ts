// The console's control commands with PgBouncer's semantics: PAUSE, RESUME, KILL, KILL_CLIENT, RELOAD, SHUTDOWN, WAIT_CLOSE.
import { poolerError } from '../../errors.js';
import type { Pool } from '../../pool/pool.js';
import type { AdminHost, ShutdownMode } from '../admin-host.js';
import type { CommandContext, ConsoleReply } from './console-reply.js';

const wrongState = (reason: string) => poolerError('SLUICE_ADMIN_WRONG_STATE', { reason });

/** A database argument must name a configured database; none means all of them. */
function database(host: AdminHost, db: string | undefined): string | null {
  if (db === undefined) return null;
  if (!host.config().databases.has(db)) throw poolerError('SLUICE_ADMIN_NO_SUCH_DATABASE', { database: db });
  return db;
}

function notShuttingDown(host: AdminHost): void {
  if (host.shuttingDown) throw wrongState('Sluice is shutting down');
}

function poolsOf(host: AdminHost, db: string | null): Pool[] {
  return [...host.pools()].filter((p) => db === null || p.database === db);
}

/** Waits, answering `tag` when test() holds; a console that leaves first drops the wait. */
function waitFor(ctx: CommandContext, test: () => boolean, finish: () => ConsoleReply): Promise<ConsoleReply> {
  return new Promise((resolve, reject) => {
    const cancel = ctx.host.when(test, () => {
      try {
        resolve(finish());
      } catch (err) {
        reject(err);
      }
    });
    ctx.onEnd(cancel);
  });
}

/**
 * PAUSE [db]: new transactions wait (within their queue timeouts); answers once every server connection
 * is back from its client, then closes them so the database can be restarted.
 */
export function pause(ctx: CommandContext, args: string[]): ConsoleReply | Promise<ConsoleReply> {
  const { host } = ctx;
  notShuttingDown(host);
  const db = database(host, args[0]);
  if (host.scheduler.isPaused('*') || (db !== null && host.scheduler.isPaused(db))) throw wrongState('already paused');
  host.scheduler.pause(db);
  ctx.log.info({ client: ctx.clientId, user: ctx.user, db }, 'PAUSE command issued');
  const stillPaused = (): boolean => host.scheduler.isPaused(db ?? '*');
  const released = (): boolean => poolsOf(host, db).every((p) => p.used.size === 0);
  return waitFor(
    ctx,
    () => !stillPaused() || released(),
    () => {
      if (!stillPaused()) throw wrongState('PAUSE was interrupted by RESUME');
      for (const p of poolsOf(host, db)) p.closeIdle('paused by the administrator');
      return { tag: 'PAUSE' };
    },
  );
}

/** RESUME [db]: lets waiting and new transactions of a paused (or killed) database run again. */
export function resume(ctx: CommandContext, args: string[]): ConsoleReply {
  const { host } = ctx;
  notShuttingDown(host);
  const db = database(host, args[0]);
  const s = host.scheduler;
  if (db === null) {
    if (![...host.config().databases.keys()].some((d) => s.isPaused(d))) throw wrongState('Sluice is not paused');
  } else if (s.isPaused('*')) {
    throw wrongState('every database is paused: RESUME without a database name');
  } else if (!s.isPaused(db)) {
    throw wrongState(`database ${db} is not paused`);
  }
  s.resume(db);
  ctx.log.info({ client: ctx.clientId, user: ctx.user, db }, 'RESUME command issued');
  return { tag: 'RESUME' };
}

/** KILL [db]: drops the database's clients and server connections at once; it stays paused until RESUME. */
export function kill(ctx: CommandContext, args: string[]): ConsoleReply {
  const { host } = ctx;
  notShuttingDown(host);
  const db = database(host, args[0]);
  host.scheduler.pause(db);
  ctx.log.info({ client: ctx.clientId, user: ctx.user, db }, 'KILL command issued');
  const err = poolerError('SLUICE_CLIENT_KILLED');
  for (const s of [...host.clients()]) if (db === null || s.ident.database === db) s.sendError(err);
  for (const p of poolsOf(host, db)) p.closeAll('killed by the administrator');
  return { tag: 'KILL' };
}

/** KILL_CLIENT id: ends one client (or console) connection; its server connection is cleaned up or closed. */
export function killClient(ctx: CommandContext, args: string[]): ConsoleReply {
  const { host } = ctx;
  const id = args[0]!;
  if (!/^\d+$/.test(id)) throw poolerError('SLUICE_ADMIN_UNKNOWN_COMMAND', { text: `KILL_CLIENT ${id}` });
  const n = Number(id);
  const err = poolerError('SLUICE_CLIENT_KILLED');
  ctx.log.info({ client: ctx.clientId, user: ctx.user, target: n }, 'KILL_CLIENT command issued');
  for (const s of host.clients()) {
    if (s.ident.id === n) {
      s.sendError(err);
      return { tag: 'KILL_CLIENT' };
    }
  }
  for (const c of host.consoles()) {
    if (c.ident.id === n) {
      c.kill(err);
      return { tag: 'KILL_CLIENT' };
    }
  }
  throw poolerError('SLUICE_ADMIN_NO_SUCH_CLIENT', { id });
}

/** RELOAD: re-reads the configuration file through the same path as SIGHUP. */
export function reload(ctx: CommandContext): ConsoleReply {
  notShuttingDown(ctx.host);
  ctx.log.info({ client: ctx.clientId, user: ctx.user }, 'RELOAD command issued');
  ctx.host.reload();
  return { tag: 'RELOAD' };
}

const SHUTDOWN_MODES: Record<string, ShutdownMode> = { wait_for_servers: 'wait_for_servers', wait_for_clients: 'wait_for_clients' };

/** SHUTDOWN [WAIT_FOR_SERVERS | WAIT_FOR_CLIENTS]: answers first, then stops Sluice. */
export function shutdown(ctx: CommandContext, args: string[]): ConsoleReply {
  const mode = args[0] === undefined ? 'immediate' : SHUTDOWN_MODES[args[0].toLowerCase()];
  if (!mode) throw poolerError('SLUICE_ADMIN_UNKNOWN_COMMAND', { text: `SHUTDOWN ${args[0]}` });
  ctx.log.info({ client: ctx.clientId, user: ctx.user, mode }, 'SHUTDOWN command issued');
  return { tag: 'SHUTDOWN', after: () => ctx.host.shutdown(mode) };
}

/** WAIT_CLOSE [db]: answers once the connections a reload marked close_needed are gone. */
export function waitClose(ctx: CommandContext, args: string[]): ConsoleReply | Promise<ConsoleReply> {
  const { host } = ctx;
  const db = database(host, args[0]);
  ctx.log.info({ client: ctx.clientId, user: ctx.user, db }, 'WAIT_CLOSE command issued');
  const closed = (): boolean => poolsOf(host, db).every((p) => !p.retired || p.total === 0);
  return waitFor(ctx, closed, () => ({ tag: 'WAIT_CLOSE' }));
}
