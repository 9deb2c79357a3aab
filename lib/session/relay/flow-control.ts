// Backpressure for one client session: when to stop reading from its server, and from the client itself, so its memory stays within pkt_buf.

/** What flow control needs of a socket: a net.Socket, or a stand-in in tests. */
export interface FlowSocket {
  readonly writableLength: number;
  readonly writableHighWaterMark: number;
  readonly writableNeedDrain: boolean;
  pause(): unknown;
  resume(): unknown;
}

/** The linked server connection: pausing its reading is its own state, so that every change of link ends a pause. */
export interface FlowServer {
  readonly socket: FlowSocket;
  readonly readingPaused: boolean;
  pauseReading(): void;
  resumeReading(): void;
}

/**
 * A socket holds more than the bound and a write asked for 'drain' (it returned false), so 'drain' is sure to
 * follow. Below Node's high-water mark no write returns false, so that mark is the least bound there is.
 */
export function overfilled(socket: FlowSocket, bound: number): boolean {
  return socket.writableNeedDrain && socket.writableLength > Math.max(bound, socket.writableHighWaterMark);
}

/**
 * As PgBouncer's sbuf stops receiving from one side while the other cannot take what it sent, Sluice stops
 * reading: from the server while the client's socket is overfilled (until the client's 'drain'), and from the
 * client while its server's socket is overfilled or the frames it sent while no server could take them (waiting
 * in the queue, or held while the state guard talks to the server) exceed the bound.
 */
export class FlowControl {
  private clientPaused = false;

  constructor(private readonly client: FlowSocket) {}

  /** Reading from the client is paused. */
  get paused(): boolean {
    return this.clientPaused;
  }

  /** After a server chunk was relayed to the client: stop reading the server while the client is overfilled. */
  relayed(server: FlowServer, bound: number): void {
    if (!server.readingPaused && overfilled(this.client, bound)) server.pauseReading();
  }

  /** The client's socket drained: read from its server again. */
  clientDrained(server: FlowServer | null): void {
    server?.resumeReading();
  }

  /**
   * Reads from the client or not, from the state now: called whenever the frames waiting for a server
   * (queued) or the linked server's socket may have changed, and whenever the link changes.
   */
  update(queued: number, server: FlowServer | null, bound: number): void {
    const pause = queued > bound || (server !== null && overfilled(server.socket, bound));
    if (pause === this.clientPaused) return;
    this.clientPaused = pause;
    if (pause) this.client.pause();
    else this.client.resume();
  }
}
