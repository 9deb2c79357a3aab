// The accept loop: enforces max_client_conn and starts a login for every new socket.
import net from 'node:net';
import * as encode from './protocol/encode.js';
import { poolerError } from './errors.js';

export interface ListenerHooks {
  /** Current limit on concurrent client sockets. */
  maxClients(): number;
  /** Start the login of an accepted socket. */
  accept(socket: net.Socket): void;
}

export class Listener {
  private readonly server: net.Server;
  private readonly sockets = new Set<net.Socket>();
  private accepting = true;
  private stopped: Promise<void> | null = null;

  constructor(private readonly hooks: ListenerHooks) {
    this.server = net.createServer({ noDelay: true }, (s) => this.onConnection(s));
  }

  get clientCount(): number {
    return this.sockets.size;
  }

  listen(host: string, port: number): Promise<net.AddressInfo> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, host, () => {
        this.server.removeListener('error', reject);
        resolve(this.server.address() as net.AddressInfo);
      });
    });
  }

  private onConnection(socket: net.Socket): void {
    if (!this.accepting) return void socket.destroy();
    if (this.sockets.size >= this.hooks.maxClients()) {
      const err = poolerError('SLUICE_TOO_MANY_CLIENTS', { max: this.hooks.maxClients() });
      socket.on('error', () => undefined);
      // The client has not sent its startup packet yet; an ErrorResponse is what libpq shows.
      socket.end(encode.errorResponse({ severity: 'FATAL', sqlstate: err.sqlstate, message: err.message }));
      return;
    }
    this.sockets.add(socket);
    socket.once('close', () => this.sockets.delete(socket));
    this.hooks.accept(socket);
  }

  /** Stop accepting; existing sockets stay. Resolves once the last of them has closed too. */
  stopAccepting(): Promise<void> {
    this.accepting = false;
    this.stopped ??= new Promise((resolve) => this.server.close(() => resolve()));
    return this.stopped;
  }

  destroyAll(): void {
    for (const s of this.sockets) s.destroy();
  }
}
