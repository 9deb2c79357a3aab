// The registry of every error the pooler originates: code, SQLSTATE, severity and message.

export type Severity = 'FATAL' | 'ERROR';

/** Who waited where: every admission error names the tenant, the class and the time waited. */
interface Admission {
  tenant: string;
  cls: string;
  waitedMs: number;
  pool: string;
}

interface ErrorDef<P> {
  readonly sqlstate: string;
  readonly severity: Severity;
  readonly message: (p: P) => string;
}

function def<P = void>(sqlstate: string, severity: Severity, message: (p: P) => string): ErrorDef<P> {
  return { sqlstate, severity, message };
}

/** Keep in sync with docs/errors.md: test/unit/errors.test.ts fails when they drift. */
export const ERRORS = {
  SLUICE_BAD_PACKET: def<{ reason: string }>('08P01', 'FATAL', (p) => `invalid packet: ${p.reason}`),
  SLUICE_PACKET_TOO_LARGE: def<{ size: number; max: number }>(
    '08P01',
    'FATAL',
    (p) => `message of ${p.size} bytes exceeds max_packet_size (${p.max})`,
  ),
  SLUICE_UNKNOWN_MESSAGE: def<{ type: string }>('08P01', 'FATAL', (p) => `unknown message type ${p.type}`),
  SLUICE_UNSUPPORTED_PROTOCOL: def<{ major: number; minor: number }>(
    '0A000',
    'FATAL',
    (p) => `unsupported frontend protocol ${p.major}.${p.minor}: Sluice speaks protocol 3.0`,
  ),
  SLUICE_REPLICATION_UNSUPPORTED: def('0A000', 'FATAL', () => 'replication connections are not supported by Sluice'),
  SLUICE_BAD_STARTUP_PARAMETER: def<{ name: string }>(
    '08P01',
    'FATAL',
    (p) => `unsupported startup parameter: ${p.name}`,
  ),
  SLUICE_NO_USER: def('28000', 'FATAL', () => 'no PostgreSQL user name specified in startup packet'),
  SLUICE_UNKNOWN_DATABASE: def<{ database: string }>(
    '3D000',
    'FATAL',
    (p) => `database "${p.database}" is not configured in Sluice`,
  ),
  SLUICE_AUTH_FAILED: def<{ user: string; method: string }>(
    '28P01',
    'FATAL',
    (p) => `password authentication failed for user "${p.user}"`,
  ),
  SLUICE_AUTH_PROTOCOL: def<{ reason: string }>('08P01', 'FATAL', (p) => `authentication exchange failed: ${p.reason}`),
  SLUICE_CLEARTEXT_REFUSED: def(
    '28000',
    'FATAL',
    () => 'cleartext password authentication requires TLS (set auth_plain_without_tls to allow it)',
  ),
  SLUICE_TLS_REQUIRED: def('28000', 'FATAL', () => 'this listener requires TLS'),
  SLUICE_TOO_MANY_CLIENTS: def<{ max: number }>(
    '53300',
    'FATAL',
    (p) => `no more connections allowed (max_client_conn=${p.max})`,
  ),
  SLUICE_QUERY_WAIT_TIMEOUT: def<Admission & { reason: string }>(
    '53300',
    'ERROR',
    (p) => `query_wait_timeout: tenant "${p.tenant}" class "${p.cls}" waited ${Math.round(p.waitedMs)} ms for a server connection to ${p.pool}${p.reason}`,
  ),
  SLUICE_QUEUE_FULL: def<Admission>(
    '53300',
    'ERROR',
    (p) => `queue full: tenant "${p.tenant}" class "${p.cls}" already has the most transactions allowed waiting for ${p.pool}`,
  ),
  SLUICE_RATE_LIMITED: def<Admission>(
    '53400',
    'ERROR',
    (p) => `rate limit: tenant "${p.tenant}" class "${p.cls}" is over its transactions-per-second limit for ${p.pool}`,
  ),
  SLUICE_TENANT_LIMIT: def<Admission>(
    '53400',
    'ERROR',
    (p) => `limit: tenant "${p.tenant}" class "${p.cls}" may not start transactions on ${p.pool} (its slot limit is 0)`,
  ),
  SLUICE_TENANT_MAX_CLIENTS: def<{ tenant: string; max: number }>(
    '53300',
    'FATAL',
    (p) => `too many connections for tenant "${p.tenant}" (max_clients=${p.max})`,
  ),
  SLUICE_SERVER_LOGIN_FAILED: def<{ pool: string; reason: string }>(
    '08006',
    'ERROR',
    (p) => `could not log in to the server for ${p.pool}: ${p.reason}`,
  ),
  SLUICE_SERVER_CONNECTION_LOST: def<{ reason: string }>(
    '08006',
    'FATAL',
    (p) => `server connection lost: ${p.reason}`,
  ),
  SLUICE_CLIENT_IDLE_TIMEOUT: def('08P01', 'FATAL', () => 'client_idle_timeout: connection closed after being idle'),
  SLUICE_CLIENT_LOGIN_TIMEOUT: def('08P01', 'FATAL', () => 'client_login_timeout: login did not complete in time'),
  SLUICE_IDLE_TRANSACTION_TIMEOUT: def(
    '25P03',
    'FATAL',
    () => 'idle_transaction_timeout: connection closed after idling inside a transaction',
  ),
  SLUICE_CANCELED_WHILE_QUEUED: def<Admission>(
    '57014',
    'ERROR',
    (p) => `canceling statement due to user request: tenant "${p.tenant}" class "${p.cls}" waited ${Math.round(p.waitedMs)} ms in the queue for ${p.pool}`,
  ),
  SLUICE_UNKNOWN_PREPARED_STATEMENT: def<{ name: string }>(
    '26000',
    'ERROR',
    (p) => `prepared statement "${p.name}" does not exist`,
  ),
  SLUICE_DUPLICATE_PREPARED_STATEMENT: def<{ name: string }>(
    '42P05',
    'ERROR',
    (p) => `prepared statement "${p.name}" already exists`,
  ),
  SLUICE_SHUTTING_DOWN: def('57P01', 'FATAL', () => 'Sluice is shutting down'),
  SLUICE_CLIENT_KILLED: def('57P01', 'FATAL', () => 'connection closed by the Sluice administrator'),
  SLUICE_INTERNAL: def<{ reason: string }>('XX000', 'FATAL', (p) => `internal pooler error: ${p.reason}`),
} as const;

export type ErrorCode = keyof typeof ERRORS;
type ParamsOf<C extends ErrorCode> = (typeof ERRORS)[C] extends ErrorDef<infer P> ? P : never;

/** An error the pooler originates; encode it for a client with encode.errorResponse(). */
export class PoolerError extends Error {
  readonly code: ErrorCode;
  readonly sqlstate: string;
  readonly severity: Severity;
  readonly detail?: string;

  constructor(code: ErrorCode, message: string, detail?: string) {
    super(message);
    const d = ERRORS[code];
    this.name = 'PoolerError';
    this.code = code;
    this.sqlstate = d.sqlstate;
    this.severity = d.severity;
    this.detail = detail;
  }

  get fatal(): boolean {
    return this.severity === 'FATAL';
  }
}

export function poolerError<C extends ErrorCode>(
  code: C,
  ...args: ParamsOf<C> extends void ? [params?: undefined, detail?: string] : [params: ParamsOf<C>, detail?: string]
): PoolerError {
  const [params, detail] = args;
  const d = ERRORS[code] as ErrorDef<unknown>;
  return new PoolerError(code, d.message(params), detail);
}
