// One admin console connection (database `pgbouncer` or `sluice`): the simple query protocol, commands run in order.
import type net from 'node:net';
import { Frontend } from '../../protocol/codes.js';
import { FrameScanner, interestTable, type FrameSink } from '../../protocol/framing.js';
import * as encode from '../../protocol/encode.js';
import { poolerError, PoolerError } from '../../errors.js';
import type { Clock } from '../../clock.js';
import type { Logger } from '../../log.js';
import { VERSION } from '../../version.js';
import type { AdminHost, ConsoleClient } from '../admin-host.js';
import { execute, splitStatements } from './commands.js';
import type { CommandContext, ConsoleReply } from './console-reply.js';
import { encodeResult } from './result-set.js';

/** Console commands are short; a larger message is a mistake or an attack, not a command. */
const MAX_MESSAGE = 64 * 1024;
const ALL_TYPES = interestTable(Array.from({ length: 256 }, (_, t) => t));
/** Extended-protocol messages: refused once per batch, then skipped up to Sync. */
const EXTENDED = new Set<number>([Frontend.Parse, Frontend.Bind, Frontend.Describe, Frontend.Execute, Frontend.Close, Frontend.Flush]);

export interface ConsoleContext {
  host: AdminHost;
  clock: Clock;
  log: Logger;
  /** Called once when the connection ends. */
  closed(c: ConsoleSession): void;
}

export interface ConsoleIdentity {
  id: number;
  user: string;
  database: string;
  admin: boolean;
}

export class ConsoleSession implements FrameSink, ConsoleClient {
  readonly connectedAt: number;
  lastActivity: number;
  private readonly scanner = new FrameScanner(this, ALL_TYPES, MAX_MESSAGE);
  /** Work in arrival order; a command that waits (PAUSE) holds back everything behind it. */
  private readonly queue: Array<() => void | Promise<void>> = [];
  private running = false;
  private discarding = false;
  private ended = false;
  private closeReason = 'client closed the connection';
  private readonly onEnd: Array<() => void> = [];
  private readonly cmd: CommandContext;

  constructor(
    readonly socket: net.Socket,
    readonly ident: ConsoleIdentity,
    private readonly ctx: ConsoleContext,
  ) {
    this.connectedAt = this.lastActivity = ctx.clock.now();
    this.cmd = {
      host: ctx.host,
      log: ctx.log,
      clientId: ident.id,
      user: ident.user,
      admin: ident.admin,
      onEnd: (fn) => this.onEnd.push(fn),
    };
    socket.on('data', (chunk: Buffer) => this.feed(chunk));
    socket.on('error', () => undefined);
    socket.on('close', () => this.cleanup());
  }

  /** The welcome after AuthenticationOk: PgBouncer's console parameters, then ReadyForQuery. */
  welcome(rest: Buffer | null): void {
    const params: Array<[string, string]> = [
      ['server_version', `${VERSION}/sluice`],
      ['client_encoding', 'UTF8'],
      ['server_encoding', 'UTF8'],
      ['DateStyle', 'ISO'],
      ['TimeZone', 'GMT'],
      ['standard_conforming_strings', 'on'],
      ['is_superuser', this.ident.admin ? 'on' : 'off'],
    ];
    // The key cancels nothing: console commands cannot be cancelled, and no session has this key.
    const out = [
      ...params.map(([k, v]) => encode.parameterStatus(k, v)),
      encode.backendKeyData(this.ident.id, 0),
      encode.ReadyForQueryIdle,
    ];
    this.socket.write(Buffer.concat(out));
    if (rest) this.feed(rest);
  }

  feed(chunk: Buffer): void {
    this.lastActivity = this.ctx.clock.now();
    this.scanner.feed(chunk);
  }

  onMessage(type: number, buf: Buffer, start: number, end: number): boolean {
    if (type === Frontend.Query) {
      const sql = buf.toString('utf8', start + 5, buf[end - 1] === 0 ? end - 1 : end);
      this.enqueue(() => this.Query(sql));
    } else if (type === Frontend.Sync) {
      this.enqueue(() => this.Sync());
    } else if (type === Frontend.Terminate) {
      this.close('client sent Terminate');
    } else if (EXTENDED.has(type)) {
      this.enqueue(() => this.extendedMessage());
    } else {
      this.fail(poolerError('SLUICE_UNKNOWN_MESSAGE', { type: `0x${type.toString(16).padStart(2, '0')}` }));
    }
    return false;
  }

  forward(): void {
    // Every message type is inspected, so nothing is ever forwarded.
  }

  onFrameError(reason: 'length' | 'too_large', length: number): void {
    this.fail(
      reason === 'too_large'
        ? poolerError('SLUICE_PACKET_TOO_LARGE', { size: length, max: MAX_MESSAGE })
        : poolerError('SLUICE_BAD_PACKET', { reason: `message length ${length} is below the minimum of 4` }),
    );
  }

  private enqueue(work: () => void | Promise<void>): void {
    this.queue.push(work);
    if (!this.running) void this.runQueue();
  }

  private async runQueue(): Promise<void> {
    this.running = true;
    try {
      for (let work = this.queue.shift(); work && !this.ended; work = this.queue.shift()) await work();
    } catch (err) {
      // A bug must cost this connection, never the process (an unhandled rejection would end it).
      this.internalError(err);
    }
    this.running = false;
  }

  private async Query(sql: string): Promise<void> {
    this.discarding = false;
    const statements = splitStatements(sql);
    if (statements.length === 0) this.write(encode.EmptyQueryResponse);
    const after: Array<() => void> = [];
    for (const text of statements) {
      try {
        const reply = await execute(text, this.cmd);
        this.writeReply(reply);
        if (reply.after) after.push(reply.after);
      } catch (err) {
        if (!(err instanceof PoolerError)) throw err;
        this.writeError(err);
        break;
      }
    }
    this.write(encode.ReadyForQueryIdle);
    for (const fn of after) fn();
  }

  private Sync(): void {
    this.discarding = false;
    this.write(encode.ReadyForQueryIdle);
  }

  private extendedMessage(): void {
    if (this.discarding) return;
    this.discarding = true;
    this.writeError(poolerError('SLUICE_ADMIN_EXTENDED_PROTOCOL'));
  }

  private writeReply(r: ConsoleReply): void {
    if (r.notice) {
      this.write(encode.errorResponse({ severity: 'NOTICE', sqlstate: '00000', message: r.notice.message, detail: r.notice.detail }, true));
    }
    if (r.result) this.write(Buffer.concat(encodeResult(r.result, r.tag)));
    else this.write(encode.commandComplete(r.tag));
  }

  private internalError(err: unknown): void {
    this.ctx.log.error({ client: this.ident.id, err: err instanceof Error ? err.stack : String(err) }, 'admin command failed');
    this.kill(poolerError('SLUICE_INTERNAL', { reason: err instanceof Error ? err.message : String(err) }));
  }

  private writeError(err: PoolerError): void {
    this.write(encode.errorResponse({ severity: err.severity, sqlstate: err.sqlstate, message: err.message, detail: err.detail }));
  }

  private write(b: Buffer): void {
    if (!this.ended && !this.socket.destroyed) this.socket.write(b);
  }

  /** KILL_CLIENT, shutdown: a FATAL error, then close. */
  kill(err: PoolerError): void {
    this.writeError(err);
    this.close(`${err.code}: ${err.message}`);
  }

  private fail(err: PoolerError): void {
    this.scanner.fail();
    this.kill(err);
  }

  close(reason: string): void {
    if (!this.ended) this.closeReason = reason;
    if (!this.socket.destroyed) this.socket.end();
    this.cleanup();
  }

  private cleanup(): void {
    if (this.ended) return;
    this.ended = true;
    this.scanner.fail();
    this.queue.length = 0;
    for (const fn of this.onEnd) fn();
    const { id, user, database } = this.ident;
    this.ctx.log.info({ client: id, tenant: null, db: database, user, reason: this.closeReason, console: true }, 'client disconnected');
    this.ctx.closed(this);
  }
}
