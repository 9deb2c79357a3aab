// One dedicated server connection per (database, server user) that LISTENs on the union of its clients' channels and fans notifications out.
import type net from 'node:net';
import type { Clock, TimerHandle } from '../clock.js';
import type { Logger } from '../log.js';
import { Backend } from '../protocol/codes.js';
import { FrameScanner, type FrameSink } from '../protocol/framing.js';
import { decodeErrorFields } from '../protocol/decode.js';
import { serialize } from '../protocol/pg-protocol.js';
import { loginToServer, type LoginResult, type ServerTarget } from '../pool/server-login.js';

/** Receives NotificationResponse frames, exactly as Postgres sent them. */
export interface NotifySubscriber {
  notification(frame: Buffer): void;
}

/** Called once a subscription is in force on the server (error: it is not). */
export type SubscribeDone = (error: string | null) => void;

export interface ListenerOptions {
  clock: Clock;
  log: Logger;
  /** The pool's current target (it may change on reload); read at each login. */
  target(): ServerTarget;
  /** Called when the last channel is gone and the connection closed, so the owner can forget this listener. */
  empty(listener: ChannelListener): void;
}

const BACKOFF_MIN_MS = 100;
const BACKOFF_MAX_MS = 5000;
const APPLICATION_NAME = 'sluice notify listener';

type State = 'idle' | 'connecting' | 'ready' | 'backoff' | 'closed';

interface Command {
  channels: string[];
  error: string | null;
}

export class ChannelListener implements FrameSink {
  /** Subscribers per channel: the union of every client's LISTENs. */
  private readonly channels = new Map<string, Set<NotifySubscriber>>();
  /** Channels the server has confirmed, and callbacks waiting for a channel to be confirmed. */
  private readonly confirmed = new Set<string>();
  private readonly waiting = new Map<string, Array<{ sub: NotifySubscriber; done: SubscribeDone }>>();
  private readonly inFlight: Command[] = [];
  private state: State = 'idle';
  private socket: net.Socket | null = null;
  private scanner: FrameScanner | null = null;
  private timer: TimerHandle | null = null;
  private backoffMs = BACKOFF_MIN_MS;
  /** When the last working connection was lost (for logging the gap), or null. */
  private lostAt: number | null = null;
  /** Backend pid of the current connection (0 while there is none). */
  pid = 0;
  /** Times a working connection was lost: notifications sent meanwhile were missed. */
  gaps = 0;

  constructor(
    readonly name: string,
    private readonly opts: ListenerOptions,
  ) {}

  get connected(): boolean {
    return this.state === 'ready';
  }

  get channelCount(): number {
    return this.channels.size;
  }

  get listeningCount(): number {
    return this.confirmed.size;
  }

  subscribe(channel: string, sub: NotifySubscriber, done: SubscribeDone): void {
    let subs = this.channels.get(channel);
    if (!subs) this.channels.set(channel, (subs = new Set()));
    if (subs.has(sub) || this.confirmed.has(channel)) {
      subs.add(sub);
      return done(null);
    }
    subs.add(sub);
    // While reconnecting after a loss the channel joins the others: it is LISTENed as soon as the connection is back.
    if (this.lostAt !== null) return done(null);
    let w = this.waiting.get(channel);
    if (!w) {
      this.waiting.set(channel, (w = []));
      if (this.state === 'ready') this.send([channel], true);
    }
    w.push({ sub, done });
    if (this.state === 'idle') this.connect();
  }

  unsubscribe(channel: string, sub: NotifySubscriber): void {
    const subs = this.channels.get(channel);
    if (!subs?.delete(sub) || subs.size > 0) return;
    this.channels.delete(channel);
    const confirmed = this.confirmed.delete(channel);
    // With no channel left the connection goes, and its LISTENs with it.
    if (this.channels.size === 0) return this.closeIfEmpty();
    if (confirmed && this.state === 'ready') this.send([channel], false);
  }

  close(): void {
    this.state = 'closed';
    this.timer?.cancel();
    this.timer = null;
    this.dropSocket();
    this.failWaiters('the pooler is shutting down');
  }

  private connect(): void {
    this.state = 'connecting';
    loginToServer({ ...this.opts.target(), applicationName: APPLICATION_NAME })
      .then(
        (login) => this.loggedIn(login),
        (err: Error) => this.loginFailed(err.message),
      )
      .catch((err: unknown) => this.opts.log.error({ pool: this.name, err }, 'internal error after the notify listener logged in'));
  }

  private loggedIn(login: LoginResult): void {
    if (this.state === 'closed' || this.channels.size === 0) {
      login.socket.destroy();
      if (this.state === 'closed') return;
      this.state = 'idle';
      return this.opts.empty(this);
    }
    this.state = 'ready';
    this.backoffMs = BACKOFF_MIN_MS;
    this.pid = login.pid;
    this.socket = login.socket;
    this.socket.setKeepAlive(true, 30_000);
    const scanner = (this.scanner = new FrameScanner(this, [Backend.NotificationResponse, Backend.ReadyForQuery, Backend.ErrorResponse]));
    const socket = this.socket;
    socket.on('data', (chunk: Buffer) => {
      // A fault boundary: a throw while fanning out notifications costs this connection (it reconnects), not the process.
      try {
        scanner.feed(chunk);
      } catch (err) {
        this.opts.log.error({ pool: this.name, err }, 'internal error in the notify listener; reconnecting');
        socket.destroy();
      }
    });
    this.socket.on('error', () => undefined);
    this.socket.on('close', () => this.lost('the listener connection closed'));
    if (this.lostAt !== null) {
      const gapMs = Math.round(this.opts.clock.now() - this.lostAt);
      this.opts.log.warn(
        { pool: this.name, gapMs, channels: this.channels.size, pid: this.pid },
        'notify listener reconnected: notifications sent while it was down were missed',
      );
      this.lostAt = null;
    }
    this.send([...this.channels.keys()], true);
  }

  private loginFailed(reason: string): void {
    if (this.state === 'closed') return;
    this.opts.log.warn({ pool: this.name, reason }, 'notify listener could not log in');
    this.failWaiters(reason);
    if (this.channels.size === 0) {
      this.state = 'idle';
      this.opts.empty(this);
      return;
    }
    this.retryLater();
  }

  /** The connection died under us: clients stay subscribed, and the channels are LISTENed again once it is back. */
  private lost(reason: string): void {
    if (this.state !== 'ready') return;
    this.dropSocket();
    this.confirmed.clear();
    if (this.channels.size === 0) {
      this.state = 'idle';
      this.failWaiters(reason);
      return this.opts.empty(this);
    }
    this.gaps++;
    this.lostAt = this.opts.clock.now();
    this.opts.log.warn({ pool: this.name, reason, channels: this.channels.size }, 'notify listener connection lost; reconnecting');
    this.retryLater();
  }

  private retryLater(): void {
    this.state = 'backoff';
    const delay = this.backoffMs;
    this.backoffMs = Math.min(BACKOFF_MAX_MS, this.backoffMs * 2);
    this.timer = this.opts.clock.setTimer(() => {
      this.timer = null;
      if (this.state === 'backoff') this.connect();
    }, delay);
  }

  private send(channels: string[], listen: boolean): void {
    if (channels.length === 0) return;
    const verb = listen ? 'LISTEN' : 'UNLISTEN';
    const sql = channels.map((c) => `${verb} ${quoteIdent(c)}`).join('; ');
    this.inFlight.push({ channels: listen ? channels : [], error: null });
    this.socket?.write(serialize.query(sql));
  }

  // FrameSink: only the three interesting message types reach onMessage; everything else is dropped.

  onMessage(type: number, buf: Buffer, start: number, end: number): boolean {
    if (type === Backend.NotificationResponse) this.NotificationResponse(buf, start, end);
    else if (type === Backend.ErrorResponse) this.ErrorResponse(buf, start, end);
    else this.ReadyForQuery();
    return false;
  }

  forward(): void {}

  onFrameError(): void {
    this.socket?.destroy();
  }

  private NotificationResponse(buf: Buffer, start: number, end: number): void {
    const from = start + 9;
    const nul = buf.indexOf(0, from);
    if (nul < 0 || nul >= end) return;
    const subs = this.channels.get(buf.toString('utf8', from, nul));
    if (!subs) return;
    const frame = buf.subarray(start, end);
    for (const sub of subs) sub.notification(frame);
  }

  private ErrorResponse(buf: Buffer, start: number, end: number): void {
    const f = decodeErrorFields(buf, start, end);
    const cmd = this.inFlight[0];
    if (cmd) cmd.error ??= `${f.code}: ${f.message}`;
  }

  private ReadyForQuery(): void {
    const cmd = this.inFlight.shift();
    if (!cmd) return;
    if (cmd.error) this.opts.log.warn({ pool: this.name, channels: cmd.channels, err: cmd.error }, 'notify listener: LISTEN failed');
    for (const channel of cmd.channels) {
      const w = this.waiting.get(channel) ?? [];
      this.waiting.delete(channel);
      const subs = this.channels.get(channel);
      if (cmd.error) {
        for (const { sub } of w) subs?.delete(sub);
        if (subs?.size === 0) this.channels.delete(channel);
      } else if (subs) this.confirmed.add(channel);
      // Everyone left while the LISTEN was on its way: take it back.
      else this.send([channel], false);
      for (const { done } of w) done(cmd.error);
    }
    this.closeIfEmpty();
  }

  private failWaiters(reason: string): void {
    for (const [channel, w] of this.waiting) {
      for (const { sub } of w) this.channels.get(channel)?.delete(sub);
      if (this.channels.get(channel)?.size === 0) this.channels.delete(channel);
    }
    const all = [...this.waiting.values()].flat();
    this.waiting.clear();
    for (const { done } of all) done(reason);
  }

  /** Nobody listens any more: the connection goes, and the owner forgets this listener. */
  private closeIfEmpty(): void {
    if (this.channels.size > 0 || this.waiting.size > 0) return;
    if (this.state === 'ready' || this.state === 'backoff') {
      this.timer?.cancel();
      this.timer = null;
      this.dropSocket();
      this.state = 'idle';
      this.lostAt = null;
    }
    if (this.state === 'idle') this.opts.empty(this);
  }

  private dropSocket(): void {
    this.inFlight.length = 0;
    this.scanner?.fail();
    this.scanner = null;
    const s = this.socket;
    this.socket = null;
    this.pid = 0;
    if (s && !s.destroyed) s.end(serialize.end());
    s?.destroy();
  }
}

/** A channel name as a quoted identifier, exactly as the client's LISTEN named it after folding. */
function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}
