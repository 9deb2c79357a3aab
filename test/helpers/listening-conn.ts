// A stand-in for a server connection that LISTENs on some channels: it answers pg_listening_channels() at once and records internal SQL.
import type { ServerConnection, ServerLink } from '../../lib/pool/server-connection.js';
import * as encode from '../../lib/protocol/encode.js';
import { TxStatus } from '../../lib/protocol/codes.js';

/** `ran` collects what Sluice ran through runInternal; it fails with `internalError` when set. */
export function listeningConn(channels: string[], internalError: string | null = null): { conn: ServerConnection; ran: string[] } {
  const ran: string[] = [];
  const c = {
    closed: false,
    status: TxStatus.Idle as number,
    link: null as ServerLink | null,
    attach(l: ServerLink) {
      this.link = l;
    },
    detach() {
      this.link = null;
    },
    writeOwnQuery() {
      this.write();
    },
    write() {
      const link = this.link as ServerLink;
      for (const ch of channels) {
        const row = encode.dataRow([ch]);
        link.serverData(row, 0, row.length);
      }
      link.serverReady(1, TxStatus.Idle);
    },
    runInternal(sql: string, done: (e: string | null) => void) {
      ran.push(sql);
      done(internalError);
    },
  };
  return { conn: c as unknown as ServerConnection, ran };
}
