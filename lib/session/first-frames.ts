// A transaction's frames that arrive before its server is linked, and their hand-over once one is.
import type { ServerConnection } from '../pool/server-connection.js';
import { appendPart } from '../protocol/byte-runs.js';
import type { ClientParams } from './params.js';
import type { PreparedStatements } from './prepared-statements.js';

export interface FirstFramesHost {
  /** conn is still this session's server and the session is still open. */
  stillLinked(conn: ServerConnection): boolean;
  /** The kept frames are about to leave (the latency clock starts here). */
  sending(): void;
  /** The client's session parameters could not be applied; the frames still go. */
  syncFailed(err: string): void;
}

export class FirstFrames {
  private parts: Buffer[] = [];
  /** Set while the client's session parameters are applied to a newly linked server; frames keep queuing meanwhile. */
  syncing = false;

  constructor(
    private readonly params: ClientParams,
    /** Renames named prepared statements on their way out; null where connections never change hands. */
    private readonly prepared: PreparedStatements | null,
    private readonly host: FirstFramesHost,
  ) {}

  get empty(): boolean {
    return this.parts.length === 0;
  }

  keep(part: Buffer): void {
    appendPart(this.parts, part);
  }

  clear(): void {
    this.parts = [];
  }

  /** conn was just linked: bring its session parameters in line with the client's, then send what was kept. */
  link(conn: ServerConnection): void {
    // Session mode too: startup parameters never reach a pooled server's own startup packet.
    const sync = this.params.syncQuery(conn);
    if (!sync) return this.sendTo(conn);
    this.syncing = true;
    conn.runInternal(sync, (err) => {
      this.syncing = false;
      if (err && !conn.closed) this.host.syncFailed(err);
      if (!err) this.params.adopt(conn);
      if (this.host.stillLinked(conn)) this.sendTo(conn);
    });
  }

  /** Everything kept, to conn in one write. */
  sendTo(conn: ServerConnection): void {
    const parts = this.parts;
    this.parts = [];
    this.host.sending();
    if (this.prepared && parts.length > 0) this.prepared.sendAll(parts);
    else if (parts.length === 1) conn.write(parts[0]);
    else if (parts.length > 1) conn.write(Buffer.concat(parts));
  }
}
