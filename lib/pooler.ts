// The composition root: builds pools, scheduler, listener and admin console from a config snapshot; reload and shutdown.
import crypto from 'node:crypto';
import type net from 'node:net';
import type tls from 'node:tls';
import { faultBoundaryClock, systemClock, type Clock, type TimerHandle } from './clock.js';
import { silentLogger, type Logger } from './log.js';
import { poolerError, type PoolerError } from './errors.js';
import * as encode from './protocol/encode.js';
import type { DatabaseConfig, SluiceConfig, TenantConfig } from './config/types.js';
import { CONSOLE_DATABASES } from './config/schema.js';
import { RuntimeTenants } from './config/tenant-overrides.js';
import { SluiceMetrics } from './metrics/sluice-metrics.js';
import { AdminHttpServer, type AdminContext } from './admin/http/http-server.js';
import { checkReadiness } from './admin/http/readiness.js';
import { Listener } from './listener.js';
import { StartupChecker } from './session/login/startup-check.js';
import { tuneTcp } from './tcp-options.js';
import { ClientStartup, clientTlsContext, type LoginRequest, type StartupContext } from './session/login/client-startup.js';
import { ClientSession } from './session/client-session.js';
import type { SessionContext, SessionIdentity } from './session/session-context.js';
import { Scheduler, type SchedulerSettings } from './scheduler/scheduler.js';
import { budgetOf } from './config/budget-key.js';
import { budgetPolicy } from './scheduler/budget-policy.js';
import { ruleClassOf, tenantOf, type SessionFacts } from './session/classify/classify.js';
import type { Pool } from './pool/pool.js';
import type { ScramKeys } from './pool/pool-settings.js';
import { PoolDirectory } from './pool/pool-directory.js';
import { ClientDirectory } from './session/client-directory.js';
import { PoolWatch } from './pool/pool-watch.js';
import { LoginThrottle } from './auth/login-throttle.js';
import { StatementRegistry } from './session/prepared/statement-registry.js';
import { sendCancel } from './pool/server-connection.js';
import { LaneLearner } from './session/classify/lane-learner.js';
import type { AdminHost, ShutdownMode } from './admin/admin-host.js';
import { ConsoleSession, type ConsoleContext } from './admin/console/console-session.js';
import { NotifyHub } from './notify/notify-hub.js';
import { StateParser, sessionStatePolicy } from './session/state/session-state.js';
import type { GuardContext } from './session/state/state-guard.js';
import { SocketReader } from './socket-read.js';

export interface PoolerOptions {
  clock?: Clock;
  log?: Logger;
  /**
   * Reads the configuration file again; throws (a ConfigError) when it cannot. SIGHUP, a changed file and
   * the console's RELOAD all go through it. Without it, RELOAD is refused.
   */
  configSource?: () => SluiceConfig;
  /** Wall-clock milliseconds, only for timestamps the console shows. */
  wallClock?: () => number;
  /** How client and server sockets are read; by default Node's onread path where this Node allows (SocketReader.detect). */
  socketReader?: SocketReader;
}

const JANITOR_MS = 1000;
const LOGIN_RETRY_MS = 500;
const READINESS_PROBE_MS = 2000;

export class Pooler {
  config: SluiceConfig;
  readonly clock: Clock;
  readonly log: Logger;
  readonly scheduler: Scheduler;
  /** Pools by (database, server user), retired pools, SHOW STATS counters. */
  private readonly directory: PoolDirectory;
  private readonly clients = new ClientDirectory();
  readonly metrics: SluiceMetrics;
  /** The file's snapshot and the tenant settings changed through the admin API; `config` is both combined. */
  readonly tenants: RuntimeTenants;
  readonly consoles = new Set<ConsoleSession>();
  /** Resolves once close() has finished: the CLI exits then. */
  readonly closed: Promise<void>;
  readonly admin: AdminHost;
  /** LISTEN/NOTIFY fan-out: one listener connection per (database, server user) with subscribers. */
  readonly notifyHub: NotifyHub;
  /** Set by listen(), once the SQL parser is loaded; every session shares it. */
  private guardContext: GuardContext | null = null;
  /** Console commands waiting for server connections to come back (PAUSE, WAIT_CLOSE). */
  private readonly watch = new PoolWatch();
  private readonly listener: Listener;
  private readonly mockKey = crypto.randomBytes(32);
  /** Failed logins per client address (auth_failure_limit): checked before any authentication work. */
  private readonly loginThrottle: LoginThrottle;
  /** The learned long lane (scheduler.long_threshold), shared by all sessions. */
  readonly lanes = new LaneLearner();
  private readonly configSource: (() => SluiceConfig) | undefined;
  /** Named prepared statements of all clients, shared by content. */
  readonly statements = new StatementRegistry();
  /** Startup settings Postgres accepted, per pool: a client whose settings were seen before is welcomed at once. */
  private readonly startupChecker: StartupChecker;
  private tlsContext: tls.SecureContext | null;
  /** Reads every client and server socket; its feature check runs once, here. */
  private readonly reader: SocketReader;
  private janitor: TimerHandle | null = null;
  private drainTimer: TimerHandle | null = null;
  private adminHttp: AdminHttpServer | null = null;
  private listening = false;
  private nextClientId = 1;
  private draining = false;
  private closing = false;
  private resolveClosed: () => void = () => undefined;

  constructor(config: SluiceConfig, opts: PoolerOptions = {}) {
    this.config = config;
    this.log = opts.log ?? silentLogger();
    this.clock = faultBoundaryClock(opts.clock ?? systemClock, (err) => this.log.error({ err }, 'internal error in a timer'));
    this.configSource = opts.configSource;
    this.tlsContext = clientTlsContext(config);
    this.logHbaWarnings(config);
    this.reader = opts.socketReader ?? SocketReader.detect();
    this.tenants = new RuntimeTenants(config);
    this.metrics = new SluiceMetrics({
      snapshots: () => this.scheduler.snapshots(),
      learnedLong: () => (this.config.scheduler.long_threshold > 0 ? this.lanes.longCount : 0),
      listedTenants: () => this.config.scheduler.tenants.keys(),
      maxTenants: () => this.config.metrics.max_tenants,
      pools: () => this.pools.values(),
      openClients: () => this.listener.clientCount,
      sessions: () => this.sessions.values(),
    });
    this.scheduler = new Scheduler(this.clock, this.schedulerSettings(config));
    this.startupChecker = new StartupChecker(() => this.clock.now());
    this.directory = new PoolDirectory(
      this.clock,
      {
        idle: (p) => {
          this.scheduler.poolIdle(p);
          if (this.watch.active) this.watch.poke();
        },
        closed: (p) => this.scheduler.poolClosed(p),
        loginFailed: (p, reason, retryable) => this.scheduler.loginFailed(p, reason, retryable),
        launched: (p, ms, ok) => this.metrics.pools.launched(p.name, ms, ok),
        fault: (p, err) => this.log.error({ pool: p.name, err }, 'internal error after a server login'),
      },
      this.reader,
    );
    this.notifyHub = new NotifyHub(this.clock, this.log);
    this.loginThrottle = new LoginThrottle(this.clock, () => this.config, {
      locked: (address, failures, lockoutMs) =>
        this.log.warn({ address, failures, lockoutMs }, 'too many failed logins from one address; refusing its logins for a while'),
      refused: () => this.metrics.loginThrottled(),
    });
    this.listener = new Listener({
      maxClients: () => this.config.max_client_conn,
      accept: (socket) => {
        if (!tuneTcp(socket, this.config.tcp)) this.log.debug({ address: socket.remoteAddress }, 'the kernel refused a TCP option');
        return new ClientStartup(socket, this.startupContext(), this.nextClientId++);
      },
    });
    this.closed = new Promise((resolve) => (this.resolveClosed = resolve));
    this.admin = this.adminHost(opts.wallClock ?? Date.now);
  }

  async listen(): Promise<net.AddressInfo> {
    this.guardContext ??= {
      log: this.log,
      hub: this.notifyHub,
      parser: await StateParser.load(),
      policy: (database, user) => sessionStatePolicy(this.config, database, user),
    };
    const addr = await this.listener.listen(this.config.listen_addr, this.config.listen_port);
    const unix = this.config.unix_socket;
    const socketPath = unix ? await this.listener.listenUnix(unix, addr.port) : undefined;
    this.listening = true;
    this.metrics.listening(`${addr.address}:${addr.port}`);
    this.armJanitor();
    this.log.info({ addr: addr.address, port: addr.port, ...(socketPath ? { unix: socketPath } : {}) }, 'listening');
    const a = this.config.admin_http;
    if (a) {
      this.adminHttp = new AdminHttpServer(this.adminContext());
      const at = await this.adminHttp.listen(a.listen_addr, a.port);
      this.log.info(
        { addr: at.address, port: at.port, writes: a.token === undefined ? 'off (no token)' : 'bearer token' },
        'admin HTTP listening',
      );
    }
    return addr;
  }

  /** Live pools by `database\0server user`. */
  get pools(): ReadonlyMap<string, Pool> {
    return this.directory.live;
  }

  /** Live client sessions by cancel key. */
  get sessions(): ReadonlyMap<string, ClientSession> {
    return this.clients.byKey;
  }

  /** The admin HTTP port's address, once listening. */
  get adminAddress(): net.AddressInfo | null {
    return this.adminHttp?.address ?? null;
  }

  private adminContext(): AdminContext {
    return {
      config: () => this.config,
      overrides: this.tenants,
      snapshots: () => this.scheduler.snapshots(),
      setTenant: (name, t) => this.setTenant(name, t),
      log: this.log,
      scrape: () => this.metrics.scrape(),
      metricsContentType: this.metrics.contentType,
      readiness: () => {
        const connected = this.directory.connectedDatabases();
        const timeoutMs = Math.min(READINESS_PROBE_MS, this.config.server_connect_timeout || READINESS_PROBE_MS);
        return checkReadiness({
          listening: this.listening && !this.closing && !this.draining,
          databases: this.config.databases.values(),
          connected,
          timeoutMs,
        });
      },
    };
  }

  /** Runtime tenant settings (admin API): applied to the next scheduling decision, no pool touched. Throws ConfigError. */
  setTenant(name: string, t: TenantConfig | null): void {
    this.config = this.tenants.set(name, t);
    this.scheduler.applyPolicies();
  }

  private schedulerSettings(_c: SluiceConfig): SchedulerSettings {
    return {
      loginRetryMs: LOGIN_RETRY_MS,
      observer: this.metrics.scheduler,
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
      knowsDatabase: (name) => this.config.databases.has(name) || CONSOLE_DATABASES.includes(name),
      cancel: (pid, secret) => this.cancel(pid, secret),
      loggedIn: (req) => this.loggedIn(req),
      tlsHandshake: (ok) => this.metrics.tlsHandshake(ok),
      authFailed: (method) => this.metrics.authFailed(method),
      throttle: this.loginThrottle,
    };
  }

  private loggedIn(req: LoginRequest): void {
    if (this.closing || this.draining) return this.refuse(req, poolerError('SLUICE_SHUTTING_DOWN'));
    if (CONSOLE_DATABASES.includes(req.database)) return this.openConsole(req);
    const db = this.config.databases.get(req.database);
    if (!db) return this.refuse(req, poolerError('SLUICE_UNKNOWN_DATABASE', { database: req.database }));
    const pool = this.poolFor(db, req.user, req.scramKeys);
    this.scheduler.whenParamsKnown(pool, (err) => {
      if (req.socket.destroyed) return;
      // A reload removed the database while this client waited for the pool's first login (a moved one has a successor).
      if (pool.retired && !pool.successor) return this.refuse(req, poolerError('SLUICE_DATABASE_REMOVED', { database: req.database }));
      if (err) return this.refuse(req, poolerError('SLUICE_SERVER_LOGIN_FAILED', { pool: pool.name, reason: err }));
      // A fault boundary: this runs from a server login's completion, where a throw would take the process down.
      try {
        this.startSession(req, pool);
      } catch (e) {
        this.log.error({ client: req.id, err: e }, 'internal error starting a client session');
        this.refuse(req, poolerError('SLUICE_INTERNAL', { reason: e instanceof Error ? e.message : String(e) }));
      }
    });
  }

  /** The admin console: admin_users may run everything, stats_users only SHOW. */
  private openConsole(req: LoginRequest): void {
    const admin = this.config.admin_users.includes(req.user);
    if (!admin && !this.config.stats_users.includes(req.user)) {
      return this.refuse(req, poolerError('SLUICE_ADMIN_LOGIN_REFUSED', { user: req.user }));
    }
    const ctx: ConsoleContext = { host: this.admin, clock: this.clock, log: this.log, closed: (c) => this.consoles.delete(c) };
    const c = new ConsoleSession(req.socket, { id: req.id, user: req.user, database: req.database, admin }, ctx);
    this.consoles.add(c);
    c.welcome(req.rest);
  }

  /** A FATAL refusal after authentication; logged like every other disconnect. */
  private refuse(req: LoginRequest, err: PoolerError): void {
    this.log.info(
      { client: req.id, user: req.user, db: req.database, reason: `${err.code}: ${err.message}` },
      'client disconnected during login',
    );
    if (req.socket.destroyed) return;
    req.socket.end(encode.errorResponse({ severity: 'FATAL', sqlstate: err.sqlstate, message: err.message }));
  }

  private startSession(req: LoginRequest, pool: Pool): void {
    const iso = this.config.scheduler;
    const facts: SessionFacts = {
      user: req.user,
      database: req.database,
      applicationName: req.params.get('application_name') ?? '',
      options: req.tags,
    };
    const tenant = tenantOf(iso, facts);
    const ruleClass = ruleClassOf(iso, facts);
    // Postgres refuses a bad startup setting at login with its own error; so does Sluice, having asked it.
    this.startupChecker.check(pool, req.settings, (refusal) => {
      if (req.socket.destroyed) return;
      try {
        if (refusal === null) return this.openSession(req, pool, tenant, ruleClass);
        if (refusal.sqlstate === null)
          return this.refuse(req, poolerError('SLUICE_SERVER_LOGIN_FAILED', { pool: pool.name, reason: refusal.message }));
        this.refuseAsPostgres(req, refusal.sqlstate, refusal.message);
      } catch (e) {
        this.log.error({ client: req.id, err: e }, 'internal error starting a client session');
        this.refuse(req, poolerError('SLUICE_INTERNAL', { reason: e instanceof Error ? e.message : String(e) }));
      }
    });
  }

  /** Postgres' own refusal of a startup setting, as Postgres would send it at login: FATAL, its SQLSTATE and message. */
  private refuseAsPostgres(req: LoginRequest, sqlstate: string, message: string): void {
    this.log.info(
      { client: req.id, user: req.user, db: req.database, reason: `${sqlstate}: ${message}` },
      'client disconnected during login',
    );
    req.socket.end(encode.errorResponse({ severity: 'FATAL', sqlstate, message }));
  }

  private openSession(req: LoginRequest, pool: Pool, tenant: string, ruleClass: string | null): void {
    const iso = this.config.scheduler;
    const max = (iso.tenants.get(tenant) ?? iso.default_tenant).max_clients;
    if (!this.clients.admit(tenant, max)) return this.refuse(req, poolerError('SLUICE_TENANT_MAX_CLIENTS', { tenant, max }));
    pool.stats.clientLogins++;
    const ident = {
      id: req.id,
      user: req.user,
      database: req.database,
      tenant,
      ruleClass,
      ...this.clients.newCancelKey(),
    };
    const session = new ClientSession(req.socket, ident, pool, this.sessionContext(), req.settings, this.config.max_packet_size);
    this.clients.add(session);
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
      lanes: this.lanes,
      statements: this.statements,
      reader: this.reader,
      sessionFault: () => this.metrics.sessionFault(),
      closed: (s) => this.sessionClosed(s),
      guard: this.requireGuardContext(),
    };
  }

  private requireGuardContext(): GuardContext {
    if (!this.guardContext) throw new Error('sessions start only after listen()');
    return this.guardContext;
  }

  private sessionClosed(ident: SessionIdentity): void {
    this.clients.remove(ident);
    if (this.draining && this.clients.size === 0) void this.close();
  }

  /** A CancelRequest reaches only the backend its client is using right now; unknown keys are dropped. */
  private cancel(pid: number, secret: number): void {
    const s = this.clients.find(pid, secret);
    if (s) this.cancelOnServer(s);
  }

  /** A CancelRequest for the client's backend (or its place in the queue), as if the client had sent one. */
  private cancelOnServer(s: ClientSession): void {
    s.cancel((conn) => {
      const t = s.pool.settings.target;
      conn.cancelSent();
      sendCancel(t.host, t.port, conn.pid, conn.secret, () => conn.cancelDone());
    });
  }

  /** The pool for (database, server user), created on first use. */
  poolFor(db: DatabaseConfig, clientUser: string, scramKeys?: ScramKeys): Pool {
    return this.directory.poolFor(this.config, db, clientUser, scramKeys);
  }

  /**
   * Swap in a new file snapshot (runtime tenant settings stay on top): settings apply to the next
   * dispatch; no client or server connection is dropped.
   */
  reload(file: SluiceConfig): void {
    const prev = this.config;
    const { config: next, dropped } = this.tenants.rebase(file);
    if (dropped.length > 0) this.log.warn({ tenants: dropped }, 'runtime tenant settings no longer fit the reloaded file and were dropped');
    this.warnAdminHttpChange(prev, next);
    this.config = next;
    this.tlsContext = clientTlsContext(next);
    if (next.hba !== prev.hba) this.logHbaWarnings(next);
    this.scheduler.settings = this.schedulerSettings(next);
    this.dropRemovedDatabases(prev, next);
    for (const pool of this.directory.reconcile(next)) {
      // Logins waiting for this pool's first server login are refused now (see loggedIn), not when it ends.
      pool.flushParamWaiters('database removed by reload');
      this.scheduler.forget(pool, poolerError('SLUICE_DATABASE_REMOVED', { database: pool.database }));
    }
    this.scheduler.applyPolicies();
    this.directory.trimToSize();
    this.log.info({ changed: prev !== next }, 'configuration reloaded');
  }

  /** Clients of a removed database leave, as PgBouncer drops them; kept on, each transaction would cost a server login. */
  private dropRemovedDatabases(prev: SluiceConfig, next: SluiceConfig): void {
    for (const db of prev.databases.keys()) {
      if (next.databases.has(db)) continue;
      const clients = this.clients.dropDatabase(db);
      this.log.warn({ db, clients }, 'database removed by reload; its clients are disconnected as their transactions end');
    }
  }

  /** Lines of auth_hba_file that were skipped, as PgBouncer logs them: the other rules apply without them. */
  private logHbaWarnings(c: SluiceConfig): void {
    for (const warning of c.hba?.warnings ?? []) this.log.warn({ file: c.auth_hba_file, warning }, 'auth_hba_file: line skipped');
  }

  private warnAdminHttpChange(prev: SluiceConfig, next: SluiceConfig): void {
    const a = prev.admin_http;
    const b = next.admin_http;
    if (a?.listen_addr === b?.listen_addr && a?.port === b?.port) return;
    this.log.warn('admin_http listen_addr, port or presence changed: that takes a restart; the token change (if any) applies now');
  }

  /** Re-reads the configuration (SIGHUP, a changed file, the console's RELOAD); a bad file changes nothing. */
  reloadFromSource(why: string): void {
    if (!this.configSource) throw poolerError('SLUICE_ADMIN_RELOAD_FAILED', { reason: 'Sluice was started without a configuration file' });
    let next: SluiceConfig;
    try {
      next = this.configSource();
    } catch (err) {
      const reason = err instanceof Error ? err.message : String(err);
      this.log.error({ why, err: reason }, 'reload refused; the old configuration stays');
      throw poolerError('SLUICE_ADMIN_RELOAD_FAILED', { reason });
    }
    this.reload(next);
    this.log.info({ why }, 'reload done');
  }

  private armJanitor(): void {
    this.janitor = this.clock.setTimer(() => {
      // A fault boundary: upkeep that throws is logged and tried again at the next tick.
      try {
        this.sweep();
      } catch (err) {
        this.log.error({ err }, 'internal error in periodic upkeep');
      }
      if (!this.closing) this.armJanitor();
    }, JANITOR_MS);
  }

  /** Periodic upkeep (PgBouncer's janitor): pool expiry, client timeouts, stats periods. */
  sweep(): void {
    this.directory.sweep((db) => this.scheduler.isPaused(db), this.config.stats_period);
    this.clients.sweepTimeouts(this.config, this.clock.now(), (s) => this.cancelOnServer(s));
  }

  /**
   * Graceful stop (SIGTERM, SHUTDOWN WAIT_FOR_*): no new clients; running transactions finish, each client
   * leaving as its transaction ends, within shutdown_timeout; then close(). waitForClients keeps idle
   * clients connected until they leave on their own (PgBouncer's WAIT_FOR_CLIENTS).
   */
  drain(waitForClients = false): Promise<void> {
    if (this.closing || this.draining) return this.closed;
    this.draining = true;
    const timeoutMs = this.config.shutdown_timeout;
    this.log.info(
      { clients: this.clients.size, timeoutMs, waitForClients },
      'shutting down: no new clients, running transactions may finish',
    );
    void this.listener.stopAccepting();
    if (timeoutMs > 0) {
      this.drainTimer = this.clock.setTimer(() => {
        this.log.warn({ clients: this.clients.size, timeoutMs }, 'shutdown_timeout reached; closing the remaining clients');
        void this.close();
      }, timeoutMs);
    }
    // Each idle client leaves now; the last one to leave (here or later, in sessionClosed) closes the pooler.
    if (!waitForClients) {
      const err = poolerError('SLUICE_SHUTTING_DOWN');
      for (const s of [...this.clients.values()]) s.drain(err);
    }
    if (this.clients.size === 0) void this.close();
    return this.closed;
  }

  /** Immediate stop (SIGINT, SHUTDOWN): every client gets a FATAL, every server connection closes. */
  async close(): Promise<void> {
    if (this.closing) return this.closed;
    this.closing = true;
    this.drainTimer?.cancel();
    this.janitor?.cancel();
    this.scheduler.close();
    this.notifyHub.close();
    const stopped = this.listener.stopAccepting();
    const err = poolerError('SLUICE_SHUTTING_DOWN');
    for (const s of [...this.clients.values()]) s.sendError(err);
    for (const c of [...this.consoles]) c.kill(err);
    this.watch.clear();
    this.listener.destroyAll();
    this.directory.closeAll('pooler shutting down');
    await Promise.all([stopped, this.adminHttp?.close()]);
    this.log.info('stopped');
    this.resolveClosed();
  }

  /** The console's view: live objects and the control operations, without widening the Pooler's own API. */
  private adminHost(wallClock: () => number): AdminHost {
    const self = this;
    return {
      clock: this.clock,
      scheduler: this.scheduler,
      longShapes: () => (this.config.scheduler.long_threshold > 0 ? this.lanes.longShapes() : []),
      config: () => this.config,
      wallNow: wallClock,
      pools: () => this.directory.all(),
      clients: () => this.sessions.values(),
      consoles: () => this.consoles.values(),
      loginCount: () => Math.max(0, this.listener.clientCount - this.clients.size - this.consoles.size),
      statsOf: (db) => this.directory.statsOf(db),
      when: (test, done) => this.watch.when(test, done),
      reload: () => this.reloadFromSource('RELOAD command'),
      preparedOnServer: (conn) => conn.statements.size,
      preparedByClient: (client) => client.preparedCount,
      pinned: (conn) => conn.list?.name === 'pinned',
      shutdown: (mode: ShutdownMode) => void (mode === 'immediate' ? this.close() : this.drain(mode === 'wait_for_clients')),
      get shuttingDown() {
        return self.draining || self.closing;
      },
    };
  }
}
