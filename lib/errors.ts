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
  SLUICE_BAD_STARTUP_PARAMETER: def<{ name: string }>('08P01', 'FATAL', (p) => `unsupported startup parameter: ${p.name}`),
  SLUICE_NO_USER: def('28000', 'FATAL', () => 'no PostgreSQL user name specified in startup packet'),
  SLUICE_UNKNOWN_DATABASE: def<{ database: string }>('3D000', 'FATAL', (p) => `database "${p.database}" is not configured in Sluice`),
  SLUICE_AUTH_FAILED: def<{ user: string; method: string }>('28P01', 'FATAL', (p) => `password authentication failed for user "${p.user}"`),
  SLUICE_LOGIN_THROTTLED: def<{ address: string; seconds: number }>(
    '08004',
    'FATAL',
    (p) => `too many failed logins from ${p.address}: logins from this address are refused for ${p.seconds} more seconds`,
  ),
  SLUICE_AUTH_PROTOCOL: def<{ reason: string }>('08P01', 'FATAL', (p) => `authentication exchange failed: ${p.reason}`),
  SLUICE_CLEARTEXT_REFUSED: def(
    '28000',
    'FATAL',
    () => 'cleartext password authentication requires TLS (set auth_plain_without_tls to allow it)',
  ),
  SLUICE_TLS_REQUIRED: def('28000', 'FATAL', () => 'this listener requires TLS'),
  // PgBouncer's own wording for both hba refusals, so scripts that match on it keep working.
  SLUICE_HBA_NO_MATCH: def('28000', 'FATAL', () => 'no authentication method is found'),
  SLUICE_HBA_REJECTED: def('28000', 'FATAL', () => 'login rejected'),
  SLUICE_HBA_METHOD_UNSUPPORTED: def<{ method: string; line: number }>(
    '28000',
    'FATAL',
    (p) => `authentication method ${p.method} (auth_hba_file line ${p.line}) is not supported by Sluice`,
  ),
  SLUICE_TOO_MANY_CLIENTS: def<{ max: number }>('53300', 'FATAL', (p) => `no more connections allowed (max_client_conn=${p.max})`),
  SLUICE_QUERY_WAIT_TIMEOUT: def<Admission & { reason: string }>(
    '53300',
    'ERROR',
    (p) =>
      `query_wait_timeout: tenant "${p.tenant}" class "${p.cls}" waited ${Math.round(p.waitedMs)} ms for a server connection to ${p.pool}${p.reason}`,
  ),
  SLUICE_QUEUE_FULL: def<Admission>(
    '53300',
    'ERROR',
    (p) => `queue full: tenant "${p.tenant}" class "${p.cls}" already has the most transactions allowed waiting for ${p.pool}`,
  ),
  SLUICE_QUEUE_EARLY_REJECT: def<Admission & { expectedMs: number; timeoutMs: number }>(
    '53300',
    'ERROR',
    (p) =>
      `queue too long: tenant "${p.tenant}" class "${p.cls}" would wait about ${Math.round(p.expectedMs)} ms for ${p.pool}, more than its queue timeout of ${Math.round(p.timeoutMs)} ms, so it was refused at once`,
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
  SLUICE_SERVER_CONNECTION_LOST: def<{ reason: string }>('08006', 'FATAL', (p) => `server connection lost: ${p.reason}`),
  SLUICE_CLIENT_IDLE_TIMEOUT: def('08P01', 'FATAL', () => 'client_idle_timeout: connection closed after being idle'),
  SLUICE_CLIENT_LOGIN_TIMEOUT: def('08P01', 'FATAL', () => 'client_login_timeout: login did not complete in time'),
  SLUICE_IDLE_TRANSACTION_TIMEOUT: def(
    '25P03',
    'FATAL',
    () => 'idle_transaction_timeout: connection closed after idling inside a transaction',
  ),
  SLUICE_QUERY_TIMEOUT: def('57014', 'FATAL', () => 'query_timeout: the query ran too long and was canceled; connection closed'),
  SLUICE_TRANSACTION_TIMEOUT: def('25P04', 'FATAL', () => 'transaction_timeout: connection closed after its transaction ran too long'),
  SLUICE_CANCELED_WHILE_QUEUED: def<Admission>(
    '57014',
    'ERROR',
    (p) =>
      `canceling statement due to user request: tenant "${p.tenant}" class "${p.cls}" waited ${Math.round(p.waitedMs)} ms in the queue for ${p.pool}`,
  ),
  SLUICE_SESSION_STATE_REJECTED: def<{ statement: string }>(
    '0A000',
    'ERROR',
    (p) =>
      `${p.statement} is not allowed here: session_state is "reject", and in transaction pooling its effect would outlive the transaction on a shared server connection`,
  ),
  SLUICE_LISTEN_FAILED: def<{ channel: string; reason: string }>(
    '08006',
    'ERROR',
    (p) => `could not listen on channel "${p.channel}": ${p.reason}`,
  ),
  SLUICE_UNKNOWN_PREPARED_STATEMENT: def<{ name: string }>('26000', 'ERROR', (p) => `prepared statement "${p.name}" does not exist`),
  SLUICE_SETTING_NOT_APPLIED: def<{ setting: string; sqlstate: string; message: string }>(
    '22023',
    'ERROR',
    (p) =>
      `could not apply session setting ${p.setting} on a server connection: ${p.message}${p.sqlstate ? ` (SQLSTATE ${p.sqlstate})` : ''}; the transaction did not run, and the setting no longer follows this client`,
  ),
  SLUICE_UNNAMED_STATEMENT_ELSEWHERE: def<Record<string, never>>(
    '26000',
    'ERROR',
    () =>
      'unnamed prepared statement does not exist on this server connection: it was prepared in an earlier transaction; send Parse again',
  ),
  SLUICE_DUPLICATE_PREPARED_STATEMENT: def<{ name: string }>('42P05', 'ERROR', (p) => `prepared statement "${p.name}" already exists`),
  SLUICE_RESULT_TYPE_CHANGED: def('0A000', 'ERROR', () => 'cached plan must not change result type'),
  SLUICE_SHUTTING_DOWN: def('57P01', 'FATAL', () => 'Sluice is shutting down'),
  SLUICE_CLIENT_KILLED: def('57P01', 'FATAL', () => 'connection closed by the Sluice administrator'),
  SLUICE_DATABASE_REMOVED: def<{ database: string }>(
    '57P01',
    'FATAL',
    (p) => `database "${p.database}" was removed from the Sluice configuration by a reload`,
  ),
  SLUICE_ADMIN_LOGIN_REFUSED: def<{ user: string }>(
    '42501',
    'FATAL',
    (p) => `user "${p.user}" may not use the admin console: it is in neither admin_users nor stats_users`,
  ),
  SLUICE_ADMIN_ONLY: def<{ command: string; user: string }>(
    '42501',
    'ERROR',
    (p) => `${p.command} needs a user in admin_users; "${p.user}" is a stats user and may only run SHOW commands`,
  ),
  SLUICE_ADMIN_UNKNOWN_COMMAND: def<{ text: string }>('42601', 'ERROR', (p) => `invalid admin console command "${p.text}", use SHOW HELP;`),
  SLUICE_ADMIN_EXTENDED_PROTOCOL: def(
    '0A000',
    'ERROR',
    () => 'the admin console supports only the simple query protocol (PgBouncer does the same); send the command as a plain query',
  ),
  SLUICE_ADMIN_NO_SUCH_DATABASE: def<{ database: string }>('3D000', 'ERROR', (p) => `no such database: ${p.database}`),
  SLUICE_ADMIN_NO_SUCH_CLIENT: def<{ id: string }>('42704', 'ERROR', (p) => `no client with id ${p.id} (see SHOW CLIENTS)`),
  SLUICE_ADMIN_WRONG_STATE: def<{ reason: string }>('55000', 'ERROR', (p) => p.reason),
  SLUICE_ADMIN_RELOAD_FAILED: def<{ reason: string }>(
    'F0000',
    'ERROR',
    (p) => `reload refused, the running configuration stays: ${p.reason}`,
  ),
  SLUICE_INTERNAL: def<{ reason: string }>('XX000', 'FATAL', (p) => `internal pooler error: ${p.reason}`),
} as const;

/** Errors of the HTTP admin API: an HTTP status and a message. Keep in sync with docs/errors.md too. */
export const HTTP_ERRORS = {
  SLUICE_HTTP_UNAUTHORIZED: httpDef(401, () => 'missing or wrong bearer token'),
  SLUICE_HTTP_READ_ONLY: httpDef(
    403,
    () => 'no admin token is configured (admin_http.token_file or token_env), so only read-only endpoints are served',
  ),
  SLUICE_HTTP_NOT_FOUND: httpDef<{ path: string }>(404, (p) => `no such endpoint: ${p.path}`),
  SLUICE_HTTP_UNKNOWN_TENANT: httpDef<{ tenant: string }>(
    404,
    (p) => `tenant "${p.tenant}" is not configured and has not run a transaction`,
  ),
  SLUICE_HTTP_NO_OVERRIDE: httpDef<{ tenant: string }>(
    404,
    (p) => `tenant "${p.tenant}" has no settings made through the API; edit the config file to change its file settings`,
  ),
  SLUICE_HTTP_METHOD_NOT_ALLOWED: httpDef<{ method: string; allow: string }>(
    405,
    (p) => `method ${p.method} is not allowed here; allowed: ${p.allow}`,
  ),
  SLUICE_HTTP_BODY_TOO_LARGE: httpDef<{ max: number }>(413, (p) => `request body is larger than ${p.max} bytes`),
  SLUICE_HTTP_UNSUPPORTED_MEDIA_TYPE: httpDef(415, () => 'the request body must be JSON (Content-Type: application/json)'),
  SLUICE_HTTP_BAD_REQUEST: httpDef<{ reason: string }>(400, (p) => `bad request: ${p.reason}`),
  SLUICE_HTTP_INVALID_TENANT: httpDef<{ tenant: string }>(
    422,
    (p) => `the settings for tenant "${p.tenant}" were refused; nothing was changed`,
  ),
  SLUICE_HTTP_INTERNAL: httpDef(500, () => 'internal error; see the Sluice log'),
} as const;

export type HttpErrorCode = keyof typeof HTTP_ERRORS;

interface HttpErrorDef<P> {
  readonly status: number;
  readonly message: (p: P) => string;
}

function httpDef<P = void>(status: number, message: (p: P) => string): HttpErrorDef<P> {
  return { status, message };
}

type HttpParamsOf<C extends HttpErrorCode> = (typeof HTTP_ERRORS)[C] extends HttpErrorDef<infer P> ? P : never;

/** An error answer of the HTTP admin API; `problems` lists validation failures, one line each. */
export class HttpError extends Error {
  constructor(
    readonly code: HttpErrorCode,
    readonly status: number,
    message: string,
    readonly problems?: readonly string[],
  ) {
    super(message);
    this.name = 'HttpError';
  }
}

export function httpError<C extends HttpErrorCode>(
  code: C,
  ...args: HttpParamsOf<C> extends void
    ? [params?: undefined, problems?: readonly string[]]
    : [params: HttpParamsOf<C>, problems?: readonly string[]]
): HttpError {
  const [params, problems] = args;
  const d = HTTP_ERRORS[code] as HttpErrorDef<unknown>;
  return new HttpError(code, d.status, d.message(params), problems);
}

export type ErrorCode = keyof typeof ERRORS;
type ParamsOf<C extends ErrorCode> = (typeof ERRORS)[C] extends ErrorDef<infer P> ? P : never;

/** An error the pooler originates; encode it for a client with encode.errorResponse(). */
export class PoolerError extends Error {
  readonly code: ErrorCode;
  readonly sqlstate: string;
  readonly severity: Severity;
  readonly detail?: string;

  constructor(code: ErrorCode, message: string, detail?: string) {
    // A message for a client, not a bug: no stack. Capturing one cost more than the rest of a rejection.
    const limit = Error.stackTraceLimit;
    Error.stackTraceLimit = 0;
    super(message);
    Error.stackTraceLimit = limit;
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
