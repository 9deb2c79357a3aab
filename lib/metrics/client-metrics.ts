// Per listener metrics: clients by state at scrape time, TLS handshakes and authentication failures as events.
import { Counter, Gauge, type Registry } from 'prom-client';

export const CLIENT_STATES = ['login', 'idle', 'waiting', 'active'] as const;
export type SessionState = 'idle' | 'waiting' | 'active';

export class ClientMetrics {
  private readonly clients: Gauge<'listener' | 'state'>;
  private readonly tls: Counter<'listener' | 'result'>;
  private readonly authFailures: Counter<'listener' | 'method'>;
  private readonly tlsOk: Counter.Internal;
  private readonly tlsFailed: Counter.Internal;
  private readonly authByMethod = new Map<string, Counter.Internal>();

  constructor(register: Registry, private readonly listener: string) {
    const registers = [register];
    this.clients = new Gauge({
      name: 'sluice_clients',
      help: 'Client connections by state: login (not yet logged in), idle (between transactions), waiting (for a slot or server connection), active (linked to a server).',
      labelNames: ['listener', 'state'], registers,
    });
    this.tls = new Counter({ name: 'sluice_client_tls_handshakes_total', help: 'TLS handshakes with clients, by result (ok, error).', labelNames: ['listener', 'result'], registers });
    this.authFailures = new Counter({
      name: 'sluice_client_auth_failures_total', help: 'Failed client logins by authentication method (scram, md5, plain, trust).', labelNames: ['listener', 'method'], registers,
    });
    this.tlsOk = this.tls.labels({ listener, result: 'ok' });
    this.tlsFailed = this.tls.labels({ listener, result: 'error' });
  }

  tlsHandshake(ok: boolean): void {
    (ok ? this.tlsOk : this.tlsFailed).inc();
  }

  authFailed(method: string): void {
    let c = this.authByMethod.get(method);
    if (!c) this.authByMethod.set(method, (c = this.authFailures.labels({ listener: this.listener, method })));
    c.inc();
  }

  /** Scrape time: `open` client sockets in all, of which the sessions are logged in. */
  refresh(open: number, sessions: Iterable<{ readonly state: SessionState }>): void {
    const n = { login: 0, idle: 0, waiting: 0, active: 0 };
    let loggedIn = 0;
    for (const s of sessions) {
      n[s.state]++;
      loggedIn++;
    }
    n.login = Math.max(0, open - loggedIn);
    for (const state of CLIENT_STATES) this.clients.set({ listener: this.listener, state }, n[state]);
  }
}
