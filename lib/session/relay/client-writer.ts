// Bytes to one client: a server chunk's relayed pieces coalesce into one write, and everything else queues behind them.
import type net from 'node:net';
import { errorResponse } from '../../protocol/encode.js';
import type { PoolerError } from '../../errors.js';
import { BatchWrite } from './batch-write.js';

/**
 * While a server chunk is being relayed (between begin and finish), its pieces and the pooler's own
 * frames form one batch (see BatchWrite): a reply relayed whole is one write with no cork, and a chunk
 * with separate pieces still leaves in one syscall, in the order the pieces were given.
 */
export class ClientWriter {
  private readonly batch = new BatchWrite();

  constructor(private readonly socket: net.Socket) {}

  begin(): void {
    this.batch.begin(this.socket);
  }

  finish(): void {
    this.batch.end();
  }

  /** buf[start, end) relayed from the server; the buffer must stay unchanged until finish(). */
  relay(buf: Buffer, start: number, end: number): void {
    this.batch.write(this.socket, buf, start, end);
  }

  /** A frame the pooler writes itself, after everything relayed so far. */
  send(frame: Buffer): void {
    this.batch.write(this.socket, frame);
  }

  /** An ErrorResponse for one of the pooler's own errors. */
  error(err: PoolerError): void {
    this.send(errorResponse({ severity: err.severity, sqlstate: err.sqlstate, message: err.message, detail: err.detail }));
  }

  /** Writes what is pending (before the socket is ended). */
  flush(): void {
    this.batch.flush();
  }
}
