// A client from accept to login: SSL/GSS negotiation, the startup packet, authentication, then hand-off to a session.
import fs from 'node:fs';
import type net from 'node:net';
import tls from 'node:tls';
import { StartupCode, Frontend } from '../../protocol/codes.js';
import { FrameScanner, interestTable, StartupReader, type FrameSink } from '../../protocol/framing.js';
import { decodeCancelRequest, decodeStartup, type StartupPacket } from '../../protocol/decode.js';
import * as encode from '../../protocol/encode.js';
import { poolerError, type PoolerError } from '../../errors.js';
import type { SluiceConfig } from '../../config/types.js';
import type { Clock, TimerHandle } from '../../clock.js';
import type { Logger } from '../../log.js';
import { ClientAuthenticator, type AuthStep } from '../../auth/authenticate.js';
import { loginAuthType } from '../../auth/hba.js';
import { startupSettings } from './startup-settings.js';

/** The largest startup packet accepted, as PostgreSQL's MAX_STARTUP_PACKET_LENGTH. */
const MAX_STARTUP_PACKET = 10000;
const ALL_TYPES = interestTable(Array.from({ length: 256 }, (_, i) => i));

export interface LoginRequest {
  /** The client id, given at accept: log lines and SHOW CLIENTS use it. */
  id: number;
  socket: net.Socket;
  tls: boolean;
  user: string;
  database: string;
  params: Map<string, string>;
  /** The settings the client's sessions apply (startup parameters and `options`), by lower-case name. */
  settings: Map<string, string>;
  /** `sluice.*` settings of `options`: how a client names its tenant. */
  tags: Map<string, string>;
  scramKeys?: { clientKey: Buffer; serverKey: Buffer };
  /** Bytes the client sent after its last auth message. */
  rest: Buffer | null;
}

export interface StartupContext {
  config: SluiceConfig;
  clock: Clock;
  log: Logger;
  tlsContext: tls.SecureContext | null;
  mockKey: Buffer;
  /** Whether a database name is served (configured, or the admin console). */
  knowsDatabase(name: string): boolean;
  cancel(pid: number, secret: number): void;
  /** Authentication passed: build the session (or fail it with an error). */
  loggedIn(req: LoginRequest): void;
  /** A TLS handshake with a client finished or failed (metrics). */
  tlsHandshake?(ok: boolean): void;
  /** A client failed authentication; method is the exchange it was asked for (metrics). */
  authFailed?(method: string): void;
  /** Failed-login throttling by client address: checked at the first packet, told of every failure. */
  throttle?: LoginGate;
}

/** The slice of LoginThrottle a login uses. */
export interface LoginGate {
  /** How much longer the address is refused, in ms; 0 when it may log in. */
  refusedFor(address: string): number;
  failed(address: string): void;
}

export class ClientStartup implements FrameSink {
  private socket: net.Socket;
  private tls = false;
  private readonly reader = new StartupReader(MAX_STARTUP_PACKET);
  private scanner: FrameScanner | null = null;
  private auth: ClientAuthenticator | null = null;
  private startup: StartupPacket | null = null;
  private parsed: { settings: Map<string, string>; tags: Map<string, string> } | null = null;
  private rest: Buffer[] = [];
  private done = false;
  /** The client's address, for failed-login throttling; null when unknown (the socket already closed). */
  private readonly address: string | null;
  private gated = false;
  private readonly timer: TimerHandle | null;
  /** The fault boundary for a client still logging in: a throw ends this login only. */
  private readonly onData = (chunk: Buffer): void => {
    try {
      this.receive(chunk);
    } catch (err) {
      this.ctx.log.error({ client: this.id, err }, 'internal error during client login');
      this.refuse(poolerError('SLUICE_INTERNAL', { reason: err instanceof Error ? err.message : String(err) }));
    }
  };

  constructor(
    socket: net.Socket,
    private readonly ctx: StartupContext,
    private readonly id: number,
  ) {
    this.socket = socket;
    this.address = socket.remoteAddress ?? null;
    socket.on('data', this.onData);
    socket.on('error', () => undefined);
    // The login timer dies with its client: a client gone mid-login is logged once, and nothing of it is kept.
    socket.once('close', () => {
      if (!this.done) this.logEnd('client closed the connection during login');
      this.finish();
    });
    const t = ctx.config.client_login_timeout;
    this.timer = t > 0 ? ctx.clock.setTimer(() => this.refuse(poolerError('SLUICE_CLIENT_LOGIN_TIMEOUT')), t) : null;
  }

  private receive(chunk: Buffer): void {
    if (this.done) return;
    if (this.scanner) return this.scanner.feed(chunk);
    let packet: Buffer | null;
    try {
      packet = this.reader.push(chunk);
      while (packet && !this.done && !this.scanner) {
        this.onPacket(packet);
        packet = this.done || this.scanner ? null : this.reader.take();
      }
    } catch {
      return this.refuse(poolerError('SLUICE_BAD_PACKET', { reason: 'invalid length of startup packet' }));
    }
    // Frames that came in the same read as the startup packet belong to the password exchange.
    const scanner = this.scanner as FrameScanner | null;
    const rest = scanner && !this.done ? this.reader.rest() : null;
    if (scanner && rest) scanner.feed(rest);
  }

  private onPacket(p: Buffer): void {
    const code = p.readInt32BE(4);
    if (!this.gated && code !== StartupCode.CancelRequest) {
      // Before TLS and authentication, the costly parts: a locked-out address costs one map lookup.
      this.gated = true;
      const address = this.address;
      const ms = address === null ? 0 : (this.ctx.throttle?.refusedFor(address) ?? 0);
      if (ms > 0) {
        const err = poolerError('SLUICE_LOGIN_THROTTLED', { address: address as string, seconds: Math.ceil(ms / 1000) });
        return this.refuse(err, 'debug');
      }
    }
    if (p.length === 8 && code === StartupCode.SSLRequest) return this.SSLRequest();
    if (p.length === 8 && code === StartupCode.GSSENCRequest) return void this.socket.write(encode.SSLRefuse);
    if (code === StartupCode.CancelRequest) return this.CancelRequest(p);
    this.StartupMessage(p);
  }

  private SSLRequest(): void {
    const ctx = this.ctx.tlsContext;
    if (!ctx || this.tls) return void this.socket.write(encode.SSLRefuse);
    this.socket.write(encode.SSLAccept);
    this.socket.removeListener('data', this.onData);
    const secure = new tls.TLSSocket(this.socket, { isServer: true, secureContext: ctx });
    // A handshake ends once: secure, or an error or close before that.
    let ended = false;
    const handshake = (ok: boolean): void => {
      if (!ended) this.ctx.tlsHandshake?.(ok);
      ended = true;
    };
    secure.once('secure', () => handshake(true));
    secure.on('error', () => handshake(false));
    secure.once('close', () => handshake(false));
    secure.on('data', this.onData);
    this.socket = secure;
    this.tls = true;
  }

  private CancelRequest(p: Buffer): void {
    const req = decodeCancelRequest(p);
    this.ctx.log.debug({ client: this.id }, 'cancel request received');
    this.finish();
    this.socket.destroy();
    if (req) this.ctx.cancel(req.pid, req.secret);
  }

  private StartupMessage(p: Buffer): void {
    const s = decodeStartup(p);
    if (!s) return this.refuse(poolerError('SLUICE_BAD_PACKET', { reason: 'malformed startup packet' }));
    if (s.major !== 3) return this.refuse(poolerError('SLUICE_UNSUPPORTED_PROTOCOL', { major: s.major, minor: s.minor }));
    const protocolOptions = [...s.params.keys()].filter((k) => k.startsWith('_pq_.'));
    if (s.minor > 0 || protocolOptions.length > 0) this.socket.write(encode.negotiateProtocolVersion(0, protocolOptions));
    for (const k of protocolOptions) s.params.delete(k);
    const repl = s.params.get('replication');
    if (repl !== undefined && repl !== 'false' && repl !== 'off' && repl !== '0' && repl !== 'no') {
      return this.refuse(poolerError('SLUICE_REPLICATION_UNSUPPORTED'));
    }
    const user = s.params.get('user');
    if (!user) return this.refuse(poolerError('SLUICE_NO_USER'));
    const database = s.params.get('database') || user;
    if (!this.ctx.knowsDatabase(database)) return this.refuse(poolerError('SLUICE_UNKNOWN_DATABASE', { database }));
    const parsed = startupSettings(s.params, this.ctx.config.ignore_startup_parameters);
    if ('name' in parsed) return this.refuse(poolerError('SLUICE_BAD_STARTUP_PARAMETER', { name: parsed.name }));
    s.params.set('database', database);
    this.startup = s;
    this.parsed = parsed;
    this.beginAuth(user, database);
  }

  private beginAuth(user: string, database: string): void {
    const c = this.ctx.config;
    // A socket without a remote address is a Unix socket client: hba's `local` rules.
    const authType = loginAuthType(c.auth_type, c.hba, {
      connType: this.address === null ? 'local' : 'host',
      ssl: this.tls,
      database,
      user,
      ...(this.address === null ? {} : { address: this.address }),
    });
    if (typeof authType !== 'string') return this.refuse(authType);
    this.auth = new ClientAuthenticator({
      authType,
      user,
      secret: c.secrets.get(user),
      tls: this.tls,
      plainWithoutTls: c.auth_plain_without_tls,
      mockKey: this.ctx.mockKey,
    });
    this.scanner = new FrameScanner(this, ALL_TYPES, MAX_STARTUP_PACKET);
    this.step(this.auth.start());
  }

  onMessage(type: number, buf: Buffer, start: number, end: number): boolean {
    if (this.done) {
      this.rest.push(buf.subarray(start, end));
      return false;
    }
    if (type !== Frontend.Password || !this.auth) {
      this.refuse(poolerError('SLUICE_BAD_PACKET', { reason: `expected a password message, got type ${type}` }));
      return false;
    }
    this.step(this.auth.onPassword(buf, start, end));
    return false;
  }

  forward(): void {
    // Every type is interesting during login, so nothing is ever forwarded.
  }

  onFrameError(): void {
    this.refuse(poolerError('SLUICE_BAD_PACKET', { reason: 'invalid message length during authentication' }));
  }

  private step(s: AuthStep): void {
    if (s.kind === 'send') return void this.socket.write(s.data);
    if (s.kind === 'fail') {
      if (this.auth) this.ctx.authFailed?.(this.auth.method);
      if (this.address !== null) this.ctx.throttle?.failed(this.address);
      return this.refuse(s.error);
    }
    // Corked until the hand-off: when the pool can welcome the client at once, SASLFinal, AuthenticationOk,
    // the ParameterStatus list and ReadyForQuery leave in one write instead of three.
    const socket = this.socket;
    socket.cork();
    if (s.final) socket.write(s.final);
    socket.write(encode.AuthenticationOk);
    this.finish();
    const params = (this.startup as StartupPacket).params;
    // Hand over on the next tick so any frames behind the password in this chunk are collected first.
    queueMicrotask(() => {
      socket.removeListener('data', this.onData);
      try {
        this.handOver(s, params, this.parsed as NonNullable<ClientStartup['parsed']>);
      } finally {
        socket.uncork();
      }
    });
  }

  private handOver(s: Extract<AuthStep, { kind: 'ok' }>, params: Map<string, string>, parsed: NonNullable<ClientStartup['parsed']>): void {
    this.ctx.loggedIn({
      ...parsed,
      id: this.id,
      socket: this.socket,
      tls: this.tls,
      user: params.get('user') as string,
      database: params.get('database') as string,
      params,
      scramKeys: s.scramKeys,
      rest: this.rest.length ? Buffer.concat(this.rest) : null,
    });
  }

  /** Logins that never become sessions log their end here; the user may be unknown yet. */
  private logEnd(reason: string, level: 'info' | 'debug' = 'info'): void {
    const p = this.startup?.params;
    this.ctx.log[level]({ client: this.id, user: p?.get('user'), db: p?.get('database'), reason }, 'client disconnected during login');
  }

  private finish(): void {
    this.done = true;
    this.timer?.cancel();
  }

  /** A FATAL error during login: send it and close. Throttled refusals log at debug: a storm would flood the log. */
  private refuse(err: PoolerError, level: 'info' | 'debug' = 'info'): void {
    if (!this.done) this.logEnd(`${err.code}: ${err.message}`, level);
    this.finish();
    this.scanner?.fail();
    this.socket.removeListener('data', this.onData);
    if (!this.socket.destroyed) {
      this.socket.end(encode.errorResponse({ severity: 'FATAL', sqlstate: err.sqlstate, message: err.message }));
    }
  }
}

/** The TLS context for clients' SSLRequest, from client_tls; null when TLS is not configured. */
export function clientTlsContext(c: SluiceConfig): tls.SecureContext | null {
  const t = c.client_tls;
  if (!t) return null;
  return tls.createSecureContext({
    cert: fs.readFileSync(t.cert_file),
    key: fs.readFileSync(t.key_file),
    ca: t.ca_file ? fs.readFileSync(t.ca_file) : undefined,
  });
}
