// One client's LISTEN channels, held by the notify hub rather than a server connection: runs LISTEN/UNLISTEN there, and takes over the channels a server connection listened on for the client.
import * as encode from '../../protocol/encode.js';
import { poolerError, type PoolerError } from '../../errors.js';
import type { ServerConnection } from '../../pool/server-connection.js';
import type { ListenTarget, NotifyHub, NotifySubscriber } from '../../notify/notify-hub.js';
import { listeningChannels } from '../../pool/state-probe.js';
import type { ListenOp } from './session-state.js';

/** The session as the channel set sees it. */
export interface ChannelsHost {
  readonly pool: ListenTarget;
  toClient(frame: Buffer): void;
}

const LISTEN_COMPLETE = encode.commandComplete('LISTEN');
const UNLISTEN_COMPLETE = encode.commandComplete('UNLISTEN');

export class ClientChannels {
  private readonly channels = new Set<string>();
  private disposed = false;

  constructor(
    private readonly host: ChannelsHost,
    private readonly hub: NotifyHub,
    private readonly sub: NotifySubscriber,
  ) {}

  /**
   * Runs LISTEN/UNLISTEN statements in order, writing each one's CommandComplete; done(null) after the last.
   * A LISTEN the hub cannot serve stops there: what this call had subscribed is undone, as a failed
   * multi-statement Query undoes its statements, and done gets the error (not yet sent to the client).
   */
  run(ops: ListenOp[], done: (err: PoolerError | null) => void): void {
    const added: string[] = [];
    const step = (i: number): void => {
      if (this.disposed) return;
      if (i === ops.length) return done(null);
      const op = ops[i];
      if (!op.listen) {
        this.unlisten(op.channel);
        this.host.toClient(UNLISTEN_COMPLETE);
        return step(i + 1);
      }
      const channel = op.channel as string;
      if (this.channels.has(channel)) {
        this.host.toClient(LISTEN_COMPLETE);
        return step(i + 1);
      }
      this.subscribe(channel, (error) => {
        if (error === null) {
          added.push(channel);
          this.host.toClient(LISTEN_COMPLETE);
          return step(i + 1);
        }
        for (const c of added) this.unlisten(c);
        done(poolerError('SLUICE_LISTEN_FAILED', { channel, reason: error }));
      });
    };
    step(0);
  }

  /** UNLISTEN channel, or UNLISTEN * (null). */
  unlisten(channel: string | null): void {
    const pool = this.host.pool.name;
    if (channel !== null) {
      if (this.channels.delete(channel)) this.hub.unsubscribe(pool, channel, this.sub);
      return;
    }
    for (const c of this.channels) this.hub.unsubscribe(pool, c, this.sub);
    this.channels.clear();
  }

  /**
   * A client's LISTEN ran on conn (extended protocol, or inside a transaction block, where Postgres itself
   * decides at commit whether it holds). Its committed channels move to the hub, then the connection
   * forgets them. The hub listens first, so nothing is missed while they move; a notification sent in
   * that instant may arrive twice. On error the connection may still listen.
   */
  adopt(conn: ServerConnection, done: (error: string | null) => void): void {
    listeningChannels(conn, (found, error) => {
      if (error !== null || conn.closed || this.disposed) return done(error ?? 'gone');
      if ((found as string[]).length === 0) return done(null);
      const fresh = (found as string[]).filter((c) => !this.channels.has(c));
      let waiting = fresh.length + 1;
      let failed: string | null = null;
      const one = (error: string | null): void => {
        failed ??= error;
        if (--waiting > 0) return;
        if (failed !== null || conn.closed || this.disposed) return done(failed ?? 'gone');
        conn.runInternal('UNLISTEN *', done);
      };
      for (const c of fresh) this.subscribe(c, one);
      one(null);
    });
  }

  private subscribe(channel: string, done: (error: string | null) => void): void {
    this.channels.add(channel);
    this.hub.subscribe(this.host.pool, channel, this.sub, (error) => {
      // The client left while its LISTEN was on its way.
      if (this.disposed) return void (error === null && this.hub.unsubscribe(this.host.pool.name, channel, this.sub));
      if (error !== null) this.channels.delete(channel);
      done(error);
    });
  }

  /** The client is gone: its subscriptions go too. */
  dispose(): void {
    this.disposed = true;
    this.unlisten(null);
  }
}
