// The composition root: builds pools, scheduler and listener from a config snapshot; reload and shutdown.
import crypto from 'node:crypto';
import fs from 'node:fs';
import type net from 'node:net';
import tls from 'node:tls';
import { systemClock, type Clock, type TimerHandle } from './clock.js';
import { silentLogger, type Logger } from './log.js';
import { poolerError, type PoolerError } from './errors.js';
import * as encode from './protocol/encode.js';
import type { DatabaseConfig, SluiceConfig } from './config/types.js';
import { Listener } from './listener.js';
import { ClientStartup, type LoginRequest, type StartupContext } from './session/client-startup.js';
import { ClientSession, type SessionContext } from './session/client-session.js';
import { Scheduler, type SchedulerSettings } from './scheduler/scheduler.js';
import { budgetOf, budgetPolicy } from './scheduler/budget-policy.js';
import { ruleClassOf, tenantOf, type SessionFacts } from './session/classify.js';
import { sluiceOptions } from './session/client-startup.js';
import { Pool, type PoolSettings } from './pool/pool.js';
import { StatementRegistry } from './session/statement-registry.js';
import { sendCancel } from './pool/server-connection.js';

export interface PoolerOptions {
  clock?: Clock;
  log?: Logger;
}

const JANITOR_MS = 1000;
const LOGIN_RETRY_MS = 500;

export class Pooler {
  config: SluiceConfig;
  readonly clock: Clock;
  readonly log: Logger;
  readonly scheduler: Scheduler;
  readonly pools = new Map<string, Pool>();
  /** Live sessions by cancel key, so CancelRequests find their client in O(1). */
  readonly sessions = new Map<string, ClientSession>();
  /** Connected clients per tenant, for max_clients. */
  private readonly tenantClients = new Map<string, number>();
  private readonly listener: Listener;
  private readonly mockKey = crypto.randomBytes(32);
  /** Named prepared statements of all clients, shared by content. */
  readonly statements = new StatementRegistry();
  private tlsContext: tls.SecureContext | null;
  private janitor: TimerHandle | null = null;
  private nextClientId = 1;
  private nextServerId = 1;
  private closing = false;

  constructor(config: SluiceConfig, opts: PoolerOptions = {}) {
    this.config = config;
    this.clock = opts.clock ?? systemClock;
    this.log = opts.log ?? silentLogger();
    this.tlsContext = makeTlsContext(config);
    this.scheduler = new Scheduler(this.clock, this.schedulerSettings(config));
    this.listener = new Listener({
      maxClients: () => this.config.max_client_conn,
      accept: (socket) => new ClientStartup(socket, this.startupContext()),
    });
  }

  async listen(): Promise<net.AddressInfo> {
    const addr = await this.listener.listen(this.config.listen_addr, this.config.listen_port);
    this.armJanitor();
    this.log.info({ addr: addr.address, port: addr.port }, 'listening');
    return addr;
  }

  private schedulerSettings(c: SluiceConfig): SchedulerSettings {
    return {
      loginRetryMs: LOGIN_RETRY_MS,
      policyFor: (pool) => budgetPolicy(this.config, budgetOf(this.config, pool.database, pool.name, pool.settings.size).slots),
    };
  }

  private startupContext(): StartupContext {
    return {
      config: this.config,
      clock: this.clock,
      log: this.log,
      tlsContext: this.tlsContext,
      mockKey: this.mockKey,
      knowsDatabase: (name) => this.config.databases.has(name),
      cancel: (pid, secret) => this.cancel(pid, secret),
      loggedIn: (req) => this.loggedIn(req),
    };
  }

  private loggedIn(req: LoginRequest): void {
    const db = this.config.databases.get(req.database);
    if (this.closing) return refuse(req.socket, poolerError('SLUICE_SHUTTING_DOWN'));
    if (!db) return refuse(req.socket, poolerError('SLUICE_UNKNOWN_DATABASE', { database: req.database }));
    const pool = this.poolFor(db, req.user, req.scramKeys);
    pool.whenParamsKnown((err) => {
      if (req.socket.destroyed) return;
      if (err) return refuse(req.socket, poolerError('SLUICE_SERVER_LOGIN_FAILED', { pool: pool.name, reason: err }));
      this.startSession(req, pool);
    });
  }

  private startSession(req: LoginRequest, pool: Pool): void {
    const iso = this.config.scheduler;
    const facts: SessionFacts = {
      user: req.user,
      database: req.database,
      applicationName: req.params.get('application_name') ?? '',
      options: sluiceOptions(req.params.get('options') ?? '') ?? new Map(),
    };
    const tenant = tenantOf(iso, facts);
    const max = (iso.tenants.get(tenant) ?? iso.default_tenant).max_clients;
    const count = this.tenantClients.get(tenant) ?? 0;
    if (count >= max) return refuse(req.socket, poolerError('SLUICE_TENANT_MAX_CLIENTS', { tenant, max }));
    this.tenantClients.set(tenant, count + 1);
    const ident = {
      id: this.nextClientId++, user: req.user, database: req.database, tenant, ruleClass: ruleClassOf(iso, facts), ...this.newCancelKey(),
    };
    const session = new ClientSession(req.socket, ident, pool, this.sessionContext(), req.params, this.config.max_packet_size);
    this.sessions.set(cancelKey(ident.pid, ident.secret), session);
    const out: Buffer[] = [];
    for (const [k, v] of session.welcomeParams()) out.push(encode.parameterStatus(k, v));
    out.push(encode.backendKeyData(ident.pid, ident.secret), encode.ReadyForQueryIdle);
    req.socket.write(Buffer.concat(out));
    if (req.rest) session.feed(req.rest);
  }

  private sessionContext(): SessionContext {
    return {
      clock: this.clock,
      log: this.log,
      scheduler: this.scheduler,
      isolation: () => this.config.scheduler,
      statements: this.statements,
      closed: (s) => this.sessionClosed(s),
    };
  }

  private sessionClosed(s: ClientSession): void {
    this.sessions.delete(cancelKey(s.ident.pid, s.ident.secret));
    const n = (this.tenantClients.get(s.ident.tenant) ?? 1) - 1;
    if (n > 0) this.tenantClients.set(s.ident.tenant, n);
    else this.tenantClients.delete(s.ident.tenant);
  }

  private newCancelKey(): { pid: number; secret: number } {
    for (;;) {
      const pid = crypto.randomInt(1, 2 ** 31 - 1);
      const secret = crypto.randomInt(0, 2 ** 31 - 1);
      if (!this.sessions.has(cancelKey(pid, secret))) return { pid, secret };
    }
  }

  /** A CancelRequest reaches only the backend its client is using right now; unknown keys are dropped. */
  private cancel(pid: number, secret: number): void {
    const s = this.sessions.get(cancelKey(pid, secret));
    if (!s) return;
    s.cancel((conn) => {
      const t = s.pool.settings.target;
      sendCancel(t.host, t.port, conn.pid, conn.secret);
    });
  }

  /** The pool for (database, server user), created on first use. */
  poolFor(db: DatabaseConfig, clientUser: string, scramKeys?: { clientKey: Buffer; serverKey: Buffer }): Pool {
    const serverUser = db.user ?? clientUser;
    const key = `${db.name}\0${serverUser}`;
    let pool = this.pools.get(key);
    if (!pool) {
      pool = new Pool(`${db.name}/${serverUser}`, this.poolSettings(db, serverUser, clientUser, scramKeys), this.clock, {
        idle: (p) => this.scheduler.poolIdle(p),
        loginFailed: (p, reason, retryable) => this.scheduler.loginFailed(p, reason, retryable),
      }, () => this.nextServerId++);
      this.pools.set(key, pool);
    } else if (scramKeys && !pool.settings.target.scramKeys && !pool.settings.target.password) {
      pool.settings = { ...pool.settings, target: { ...pool.settings.target, scramKeys } };
    }
    return pool;
  }

  private poolSettings(db: DatabaseConfig, serverUser: string, clientUser: string, scramKeys?: { clientKey: Buffer; serverKey: Buffer }): PoolSettings {
    const c = this.config;
    const u = c.users.get(clientUser);
    const size = u?.pool_size ?? db.pool_size ?? c.default_pool_size;
    return {
      database: db.name,
      budget: budgetOf(c, db.name, `${db.name}/${serverUser}`, size).key,
      target: {
        host: db.host,
        port: db.port,
        dbname: db.dbname,
        user: serverUser,
        password: db.user ? db.password ?? secretPassword(c, db.user) : secretPassword(c, serverUser),
        scramKeys: db.user && db.password ? undefined : scramKeys,
        sslmode: c.server_tls.sslmode,
        caFile: c.server_tls.ca_file,
        connectTimeoutMs: c.server_connect_timeout,
      },
      mode: u?.pool_mode ?? db.pool_mode ?? c.pool_mode,
      size,
      minSize: db.min_pool_size ?? c.min_pool_size,
      idleTimeoutMs: c.server_idle_timeout,
      lifetimeMs: c.server_lifetime,
      resetQuery: c.server_reset_query,
      maxPreparedStatements: c.max_prepared_statements,
    };
  }

  /** Swap in a new snapshot: settings apply to the next dispatch; no client or server connection is dropped. */
  reload(next: SluiceConfig): void {
    const prev = this.config;
    this.config = next;
    this.tlsContext = makeTlsContext(next);
    this.scheduler.settings = this.schedulerSettings(next);
    const moved: Array<[Pool, DatabaseConfig, string]> = [];
    for (const [key, pool] of this.pools) {
      const db = next.databases.get(key.split('\0')[0]);
      const user = key.split('\0')[1];
      if (!db) {
        pool.retired = true;
        pool.closeIdle('database removed by reload');
        this.pools.delete(key);
        continue;
      }
      const fresh = this.poolSettings(db, user, user, pool.settings.target.scramKeys);
      // A pool moving to another slot budget is replaced too: its queued and running transactions finish in the old one.
      if (sameTarget(pool.settings.target, fresh.target) && pool.settings.budget === fresh.budget) pool.settings = fresh;
      else {
        pool.retired = true;
        pool.closeIdle('server settings changed by reload');
        this.pools.delete(key);
        moved.push([pool, db, user]);
      }
    }
    // Connected clients follow to the new server at their next transaction; created after the loop,
    // since a Map iterator also visits entries added while it runs.
    for (const [pool, db, user] of moved) pool.successor = this.poolFor(db, user, pool.settings.target.scramKeys);
    this.scheduler.applyPolicies();
    this.log.info({ changed: prev !== next }, 'configuration reloaded');
  }

  private armJanitor(): void {
    this.janitor = this.clock.setTimer(() => {
      this.sweep();
      if (!this.closing) this.armJanitor();
    }, JANITOR_MS);
  }

  /** Periodic upkeep (PgBouncer's janitor): pool expiry and client timeouts. */
  sweep(): void {
    for (const pool of this.pools.values()) pool.sweep();
    const c = this.config;
    if (c.client_idle_timeout <= 0 && c.idle_transaction_timeout <= 0) return;
    const now = this.clock.now();
    for (const s of this.sessions.values()) {
      if (c.idle_transaction_timeout > 0 && s.idleInTxSince > 0 && now - s.idleInTxSince >= c.idle_transaction_timeout) {
        s.sendError(poolerError('SLUICE_IDLE_TRANSACTION_TIMEOUT'));
      } else if (c.client_idle_timeout > 0 && s.state === 'idle' && now - s.lastActivity >= c.client_idle_timeout) {
        s.sendError(poolerError('SLUICE_CLIENT_IDLE_TIMEOUT'));
      }
    }
  }

  async close(): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    this.janitor?.cancel();
    this.scheduler.close();
    const stopped = this.listener.stopAccepting();
    for (const s of [...this.sessions.values()]) s.sendError(poolerError('SLUICE_SHUTTING_DOWN'));
    this.listener.destroyAll();
    for (const pool of this.pools.values()) pool.closeAll('pooler shutting down');
    await stopped;
  }
}

function cancelKey(pid: number, secret: number): string {
  return `${pid}:${secret}`;
}

function secretPassword(c: SluiceConfig, user: string): string | undefined {
  const s = c.secrets.get(user);
  if (!s) return undefined;
  return s.kind === 'plain' ? s.password : s.kind === 'md5' ? s.hash : undefined;
}

function sameTarget(a: PoolSettings['target'], b: PoolSettings['target']): boolean {
  return a.host === b.host && a.port === b.port && a.dbname === b.dbname && a.user === b.user && a.password === b.password && a.sslmode === b.sslmode;
}

function makeTlsContext(c: SluiceConfig): tls.SecureContext | null {
  const t = c.client_tls;
  if (!t) return null;
  return tls.createSecureContext({
    cert: fs.readFileSync(t.cert_file),
    key: fs.readFileSync(t.key_file),
    ca: t.ca_file ? fs.readFileSync(t.ca_file) : undefined,
  });
}

function refuse(socket: net.Socket, err: PoolerError): void {
  if (socket.destroyed) return;
  socket.end(encode.errorResponse({ severity: 'FATAL', sqlstate: err.sqlstate, message: err.message }));
}
