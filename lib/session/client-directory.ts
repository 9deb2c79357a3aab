// The connected client sessions: by cancel key, so a CancelRequest finds its client in O(1), and counted per tenant for max_clients.
import crypto from 'node:crypto';
import { poolerError } from '../errors.js';
import type { SluiceConfig } from '../config/types.js';
import type { ClientSession } from './client-session.js';
import type { SessionIdentity } from './session-context.js';

export class ClientDirectory {
  /** Live sessions by `pid:secret`. */
  readonly byKey = new Map<string, ClientSession>();
  /** Connected clients per tenant, counted from admission on. */
  private readonly perTenant = new Map<string, number>();

  get size(): number {
    return this.byKey.size;
  }

  values(): IterableIterator<ClientSession> {
    return this.byKey.values();
  }

  /** Counts one more client for the tenant, or answers false when it already has `max`. */
  admit(tenant: string, max: number): boolean {
    const count = this.perTenant.get(tenant) ?? 0;
    if (count >= max) return false;
    this.perTenant.set(tenant, count + 1);
    return true;
  }

  /** A cancel key no live session has: what the client gets in BackendKeyData. */
  newCancelKey(): { pid: number; secret: number } {
    for (;;) {
      const pid = crypto.randomInt(1, 2 ** 31 - 1);
      const secret = crypto.randomInt(0, 2 ** 31 - 1);
      if (!this.byKey.has(cancelKey(pid, secret))) return { pid, secret };
    }
  }

  add(session: ClientSession): void {
    this.byKey.set(cancelKey(session.ident.pid, session.ident.secret), session);
  }

  /** Forgets an ended session and gives back its tenant's client count. */
  remove(ident: Pick<SessionIdentity, 'pid' | 'secret' | 'tenant'>): void {
    this.byKey.delete(cancelKey(ident.pid, ident.secret));
    const tenant = ident.tenant;
    const n = (this.perTenant.get(tenant) ?? 1) - 1;
    if (n > 0) this.perTenant.set(tenant, n);
    else this.perTenant.delete(tenant);
  }

  find(pid: number, secret: number): ClientSession | undefined {
    return this.byKey.get(cancelKey(pid, secret));
  }

  /**
   * A reload removed the database: its clients leave with SLUICE_DATABASE_REMOVED, at once between
   * transactions, right after a running one ends (ClientSession.drain). Returns how many were told.
   */
  dropDatabase(database: string): number {
    const err = poolerError('SLUICE_DATABASE_REMOVED', { database });
    const leaving = [...this.byKey.values()].filter((s) => s.ident.database === database);
    for (const s of leaving) s.drain(err);
    return leaving.length;
  }

  /**
   * The janitor's pass: query_timeout, transaction_timeout, idle_transaction_timeout and client_idle_timeout.
   * A query still running on the server is canceled there first (`cancel`), as PgBouncer's query_timeout
   * documents, so Postgres stops it instead of running on for a client that is gone.
   */
  sweepTimeouts(c: SluiceConfig, now: number, cancel: (s: ClientSession) => void): void {
    const { query_timeout: qt, transaction_timeout: xt } = c;
    if (c.client_idle_timeout <= 0 && c.idle_transaction_timeout <= 0 && qt <= 0 && xt <= 0) return;
    for (const s of this.byKey.values()) {
      const querySince = s.querySince;
      if (qt > 0 && querySince >= 0 && now - querySince >= qt) {
        cancel(s);
        s.sendError(poolerError('SLUICE_QUERY_TIMEOUT'));
      } else if (xt > 0 && s.transactionSince >= 0 && now - s.transactionSince >= xt) {
        if (querySince >= 0) cancel(s);
        s.sendError(poolerError('SLUICE_TRANSACTION_TIMEOUT'));
      } else if (c.idle_transaction_timeout > 0 && s.idleInTxSince > 0 && now - s.idleInTxSince >= c.idle_transaction_timeout) {
        s.sendError(poolerError('SLUICE_IDLE_TRANSACTION_TIMEOUT'));
      } else if (c.client_idle_timeout > 0 && s.state === 'idle' && now - s.lastActivity >= c.client_idle_timeout) {
        s.sendError(poolerError('SLUICE_CLIENT_IDLE_TIMEOUT'));
      }
    }
  }
}

function cancelKey(pid: number, secret: number): string {
  return `${pid}:${secret}`;
}
