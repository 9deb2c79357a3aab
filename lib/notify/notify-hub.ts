// LISTEN/NOTIFY without pinning: one ChannelListener per (database, server user), opened at the first LISTEN and closed after the last UNLISTEN.
import type { Clock } from '../clock.js';
import type { Logger } from '../log.js';
import { ChannelListener, type NotifySubscriber, type SubscribeDone } from './channel-listener.js';
import type { ServerTarget } from '../pool/server-login.js';

export type { NotifySubscriber, SubscribeDone } from './channel-listener.js';

/** The part of a pool the hub needs: its name (database/server user) and where to log in. */
export interface ListenTarget {
  readonly name: string;
  readonly settings: { readonly target: ServerTarget };
  /** Set when a reload replaced this pool: the listener logs in to the newest one. */
  readonly successor?: ListenTarget | null;
}

export interface ListenerStats {
  pool: string;
  connected: boolean;
  pid: number;
  /** Channels with subscribers, and how many of them the server has confirmed. */
  channels: number;
  listening: number;
  /** Times the connection was lost and notifications may have been missed. */
  gaps: number;
}

export class NotifyHub {
  private readonly listeners = new Map<string, ChannelListener>();
  /** The newest pool object per name: after a reload it carries the current target. */
  private readonly targets = new Map<string, ListenTarget>();
  private closed = false;

  constructor(
    private readonly clock: Clock,
    private readonly log: Logger,
  ) {}

  subscribe(pool: ListenTarget, channel: string, sub: NotifySubscriber, done: SubscribeDone): void {
    if (this.closed) return done('the pooler is shutting down');
    this.targets.set(pool.name, pool);
    let l = this.listeners.get(pool.name);
    if (!l) {
      const name = pool.name;
      l = new ChannelListener(name, {
        clock: this.clock,
        log: this.log,
        target: () => newest(this.targets.get(name) ?? pool).settings.target,
        empty: (gone) => {
          if (this.listeners.get(name) !== gone) return;
          this.listeners.delete(name);
          this.targets.delete(name);
        },
      });
      this.listeners.set(name, l);
    }
    l.subscribe(channel, sub, done);
  }

  unsubscribe(poolName: string, channel: string, sub: NotifySubscriber): void {
    this.listeners.get(poolName)?.unsubscribe(channel, sub);
  }

  /** For the admin console and metrics: one entry per listener connection. */
  stats(): ListenerStats[] {
    return [...this.listeners.values()].map((l) => ({
      pool: l.name,
      connected: l.connected,
      pid: l.pid,
      channels: l.channelCount,
      listening: l.listeningCount,
      gaps: l.gaps,
    }));
  }

  close(): void {
    this.closed = true;
    for (const l of this.listeners.values()) l.close();
    this.listeners.clear();
    this.targets.clear();
  }
}

function newest(pool: ListenTarget): ListenTarget {
  let p = pool;
  while (p.successor) p = p.successor;
  return p;
}
