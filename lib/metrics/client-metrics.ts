// Per listener metrics: clients by state and their buffered bytes at scrape time, TLS handshakes, authentication failures and throttled logins as events.
import type { Registry } from 'prom-client';
import { ValueFamily, type ValueSeries } from './series.js';

export const CLIENT_STATES = ['login', 'idle', 'waiting', 'active'] as const;
export type SessionState = 'idle' | 'waiting' | 'active';

/** What a scrape reads of a logged-in session. */
export interface SessionView {
  readonly state: SessionState;
  /** Bytes Sluice holds for the client (see ClientSession.bufferedBytes). */
  readonly bufferedBytes: number;
  /** Reading from the client or from its server is paused by backpressure. */
  readonly readingPaused: boolean;
}

export class ClientMetrics {
  private readonly clients: ValueFamily;
  private readonly tlsOk: ValueSeries;
  private readonly tlsFailed: ValueSeries;
  private readonly authFailures: ValueFamily;
  private readonly authByMethod = new Map<string, ValueSeries>();
  private readonly faults: ValueSeries;
  private readonly throttled: ValueSeries;
  private readonly buffered: ValueSeries;
  private readonly bufferedMax: ValueSeries;
  private readonly paused: ValueSeries;

  constructor(
    register: Registry,
    private readonly listener: string,
  ) {
    this.clients = new ValueFamily(
      'sluice_clients',
      'Client connections by state: login (not yet logged in), idle (between transactions), waiting (for a slot or server connection), active (linked to a server).',
      ['listener', 'state'],
      'gauge',
    ).register(register);
    const tls = new ValueFamily(
      'sluice_client_tls_handshakes_total',
      'TLS handshakes with clients, by result (ok, error).',
      ['listener', 'result'],
      'counter',
    ).register(register);
    this.authFailures = new ValueFamily(
      'sluice_client_auth_failures_total',
      'Failed client logins by authentication method (scram, md5, plain, trust).',
      ['listener', 'method'],
      'counter',
    ).register(register);
    this.faults = new ValueFamily(
      'sluice_client_session_faults_total',
      'Client sessions ended because an internal error escaped their handling (each also logged with the error); the process and other clients go on.',
      ['listener'],
      'counter',
    )
      .register(register)
      .child({ listener });
    this.throttled = new ValueFamily(
      'sluice_client_logins_throttled_total',
      'Logins refused because their client address had too many failed logins (auth_failure_limit).',
      ['listener'],
      'counter',
    )
      .register(register)
      .child({ listener });
    this.buffered = new ValueFamily(
      'sluice_client_buffered_bytes',
      'Bytes Sluice holds for its clients: unsent to them, waiting for a server or held, being gathered, unsent to their servers.',
      ['listener'],
      'gauge',
    )
      .register(register)
      .child({ listener });
    this.bufferedMax = new ValueFamily(
      'sluice_client_buffered_bytes_max',
      'The most bytes Sluice holds for any one client (bounded near pkt_buf).',
      ['listener'],
      'gauge',
    )
      .register(register)
      .child({ listener });
    this.paused = new ValueFamily(
      'sluice_clients_paused',
      "Clients whose reading, or their server connection's, is paused by backpressure (pkt_buf).",
      ['listener'],
      'gauge',
    )
      .register(register)
      .child({ listener });
    this.tlsOk = tls.child({ listener, result: 'ok' });
    this.tlsFailed = tls.child({ listener, result: 'error' });
  }

  tlsHandshake(ok: boolean): void {
    (ok ? this.tlsOk : this.tlsFailed).inc();
  }

  authFailed(method: string): void {
    let c = this.authByMethod.get(method);
    if (!c) this.authByMethod.set(method, (c = this.authFailures.child({ listener: this.listener, method })));
    c.inc();
  }

  sessionFault(): void {
    this.faults.inc();
  }

  loginThrottled(): void {
    this.throttled.inc();
  }

  /** Scrape time: `open` client sockets in all, of which the sessions are logged in. */
  refresh(open: number, sessions: Iterable<SessionView>): void {
    const n = { login: 0, idle: 0, waiting: 0, active: 0 };
    let loggedIn = 0;
    let buffered = 0;
    let most = 0;
    let paused = 0;
    for (const s of sessions) {
      n[s.state]++;
      loggedIn++;
      const b = s.bufferedBytes;
      buffered += b;
      if (b > most) most = b;
      if (s.readingPaused) paused++;
    }
    this.buffered.value = buffered;
    this.bufferedMax.value = most;
    this.paused.value = paused;
    n.login = Math.max(0, open - loggedIn);
    for (const state of CLIENT_STATES) this.clients.child({ listener: this.listener, state }).value = n[state];
  }
}
