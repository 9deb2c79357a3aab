// The accept loop: enforces max_client_conn and starts a login for every new socket.
import net from 'node:net';
import * as encode from './protocol/encode.js';
import { poolerError } from './errors.js';
import type { UnixSocketSettings } from './config/types.js';
import { applySocketAccess, removeStaleSocket, unixSocketPath } from './unix-socket.js';

export interface ListenerHooks {
  /** Current limit on concurrent client sockets. */
  maxClients(): number;
  /** Start the login of an accepted socket. */
  accept(socket: net.Socket): void;
}

export class Listener {
  private readonly server: net.Server;
  /** The Unix socket's server, when unix_socket_dir is set. */
  private unixServer: net.Server | null = null;
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

  /** Also accept on `.s.PGSQL.<port>` in the socket directory; resolves with its path. */
  async listenUnix(settings: UnixSocketSettings, port: number): Promise<string> {
    const socketPath = unixSocketPath(settings, port);
    await removeStaleSocket(socketPath);
    const server = net.createServer((s) => this.onConnection(s));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(socketPath, () => {
        server.removeListener('error', reject);
        resolve();
      });
    });
    this.unixServer = server;
    applySocketAccess(socketPath, settings);
    return socketPath;
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
    // Node removes the socket file when its server closes.
    const unix = this.unixServer;
    this.stopped ??= Promise.all([
      new Promise<void>((resolve) => this.server.close(() => resolve())),
      unix ? new Promise<void>((resolve) => unix.close(() => resolve())) : undefined,
    ]).then(() => undefined);
    return this.stopped;
  }

  destroyAll(): void {
    for (const s of this.sockets) s.destroy();
  }
}
