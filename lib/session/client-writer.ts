// Bytes to one client: a server chunk's relayed pieces coalesce into one write, and everything else queues behind them.
import type net from 'node:net';
import { errorResponse } from '../protocol/encode.js';
import type { PoolerError } from '../errors.js';

/**
 * While a server chunk is being relayed (between begin and end), contiguous pieces of it are joined
 * into one range and written once at the end: a reply relayed whole is one write, with no cork.
 * A second, separate piece corks the socket, so the chunk still leaves in one syscall. Any other
 * frame first writes what is pending, so the client sees bytes in the order they were given.
 */
export class ClientWriter {
  private buf: Buffer | null = null;
  private start = 0;
  private end = 0;
  private relaying = false;
  private corked = false;

  constructor(private readonly socket: net.Socket) {}

  begin(): void {
    this.relaying = true;
  }

  finish(): void {
    this.relaying = false;
    this.flush();
    if (this.corked) {
      this.corked = false;
      this.socket.uncork();
    }
  }

  /** buf[start, end) relayed from the server; the buffer must stay unchanged until finish(). */
  relay(buf: Buffer, start: number, end: number): void {
    if (!this.relaying) return this.write(buf, start, end);
    if (this.buf === buf && this.end === start) {
      this.end = end;
      return;
    }
    if (this.buf) {
      if (!this.corked) {
        this.corked = true;
        this.socket.cork();
      }
      this.flush();
    }
    this.buf = buf;
    this.start = start;
    this.end = end;
  }

  /** A frame the pooler writes itself, after everything relayed so far. */
  send(frame: Buffer): void {
    this.flush();
    this.socket.write(frame);
  }

  /** An ErrorResponse for one of the pooler's own errors. */
  error(err: PoolerError): void {
    this.send(errorResponse({ severity: err.severity, sqlstate: err.sqlstate, message: err.message, detail: err.detail }));
  }

  /** Writes what is pending (before the socket is ended). */
  flush(): void {
    const b = this.buf;
    if (!b) return;
    this.buf = null;
    this.write(b, this.start, this.end);
  }

  private write(buf: Buffer, start: number, end: number): void {
    this.socket.write(start === 0 && end === buf.length ? buf : buf.subarray(start, end));
  }
}
