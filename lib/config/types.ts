// The validated, frozen configuration snapshot that every other module reads.
import type { HbaFile } from './hba-file.js';

export type PoolMode = 'session' | 'transaction';
/** What transaction pooling does with a statement that leaves state on the server connection. */
export type SessionStatePolicy = 'pin' | 'reject' | 'allow';
export type AuthType = 'scram-sha-256' | 'md5' | 'plain' | 'trust' | 'hba';
export type SslMode = 'disable' | 'prefer' | 'require' | 'verify-ca' | 'verify-full';

/**
 * PgBouncer's TCP settings, set on every client and server TCP socket (lib/tcp-options.ts). 0 leaves the
 * OS default; keepidle and keepintvl are seconds, keepcnt probes, user_timeout milliseconds.
 */
export interface TcpSettings {
  readonly keepalive: boolean;
  readonly keepidle: number;
  readonly keepintvl: number;
  readonly keepcnt: number;
  readonly user_timeout: number;
}

/** The listening Unix socket: `.s.PGSQL.<listen_port>` in dir, with this mode and (optionally) group. */
export interface UnixSocketSettings {
  readonly dir: string;
  readonly mode: number;
  /** A group name or numeric id. */
  readonly group?: string;
}

/** A user's secret as found in the users file or inline config. */
export type UserSecret =
  | { kind: 'plain'; password: string }
  | { kind: 'md5'; hash: string } // "md5" + hex(md5(password + user))
  | { kind: 'scram'; iterations: number; salt: Buffer; storedKey: Buffer; serverKey: Buffer };

export interface DatabaseConfig {
  /** The name clients use in their startup packet. */
  readonly name: string;
  readonly host: string;
  readonly port: number;
  /** The database name on the backend server. */
  readonly dbname: string;
  /** A forced server user: every client of this database logs in to Postgres as this user. */
  readonly user?: string;
  readonly password?: string; // non-enumerable
  readonly pool_mode?: PoolMode;
  readonly pool_size?: number;
  readonly min_pool_size?: number;
  /** Slots: server connections all pools of this database may hold together. */
  readonly max_server_connections?: number;
  readonly session_state?: SessionStatePolicy;
}

export interface UserConfig {
  readonly name: string;
  readonly pool_mode?: PoolMode;
  readonly pool_size?: number;
  readonly session_state?: SessionStatePolicy;
}

export interface ClientTlsConfig {
  readonly cert_file: string;
  readonly key_file: string;
  readonly ca_file?: string;
}

export interface ServerTlsConfig {
  readonly sslmode: SslMode;
  readonly ca_file?: string;
}

export interface SluiceConfig {
  readonly listen_addr: string;
  readonly listen_port: number;
  readonly auth_type: AuthType;
  /** Allow cleartext password auth over a connection that is not TLS. */
  readonly auth_plain_without_tls: boolean;
  readonly auth_file?: string;
  /** unix_socket_dir, unix_socket_mode, unix_socket_group; absent: TCP only. Takes a restart. */
  readonly unix_socket?: UnixSocketSettings;
  /** tcp_keepalive, tcp_keepidle, tcp_keepintvl, tcp_keepcnt, tcp_user_timeout. */
  readonly tcp: TcpSettings;
  /** auth_hba_file, absolute. */
  readonly auth_hba_file?: string;
  /** Its rules (lib/auth/hba.ts), read at load and at every reload; warnings name skipped lines, for the log. */
  readonly hba?: HbaFile;
  /** Secrets by user name, from auth_file merged with inline `users.*.password`. Non-enumerable values. */
  readonly secrets: ReadonlyMap<string, UserSecret>;
  readonly admin_users: readonly string[];
  readonly stats_users: readonly string[];
  /** Failed logins from one client address within auth_failure_window that lock it out; 0 = no throttling. */
  readonly auth_failure_limit: number;
  /** Milliseconds (seconds in YAML), like the timeouts below. */
  readonly auth_failure_window: number;
  /** How long a locked-out address is refused, in milliseconds. */
  readonly auth_failure_lockout: number;
  readonly pool_mode: PoolMode;
  readonly default_pool_size: number;
  readonly min_pool_size: number;
  readonly max_client_conn: number;
  /** All durations below are milliseconds in the snapshot; the YAML gives seconds. 0 disables. */
  readonly server_idle_timeout: number;
  readonly server_lifetime: number;
  readonly server_connect_timeout: number;
  readonly query_wait_timeout: number;
  readonly client_idle_timeout: number;
  readonly client_login_timeout: number;
  readonly idle_transaction_timeout: number;
  /** A query running on a server longer than this (ms) is canceled and its client closed; 0 = off. */
  readonly query_timeout: number;
  /** A transaction open on a server longer than this (ms) closes its client; 0 = off. */
  readonly transaction_timeout: number;
  readonly server_reset_query: string;
  /** Transaction mode only: a user's setting wins over its database's, which wins over this one. */
  readonly session_state: SessionStatePolicy;
  /** Startup parameters (and `options` settings) dropped instead of applied, lower-case; `options` drops the whole string's settings. */
  readonly ignore_startup_parameters: readonly string[];
  readonly max_packet_size: number;
  /** Bytes Sluice buffers for one client in either direction before it stops reading from the other side. */
  readonly pkt_buf: number;
  /** SIGTERM: how long running transactions may take to finish before remaining clients are closed; 0 = no limit. */
  readonly shutdown_timeout: number;
  /** How often SHOW STATS averages are recomputed. */
  readonly stats_period: number;
  /** Named prepared statements kept per server connection in transaction mode; 0 turns the feature off. */
  readonly max_prepared_statements: number;
  readonly client_tls?: ClientTlsConfig;
  readonly server_tls: ServerTlsConfig;
  readonly databases: ReadonlyMap<string, DatabaseConfig>;
  readonly users: ReadonlyMap<string, UserConfig>;
  /** Default slot budget of a database; absent: the database's pool size. */
  readonly max_server_connections?: number;
  readonly scheduler: IsolationConfig;
  readonly metrics: MetricsConfig;
  /** The HTTP admin API and /metrics; absent: not served. */
  readonly admin_http?: AdminHttpConfig;
}

export interface MetricsConfig {
  /** Tenants with a label of their own; the rest are summed under tenant="other". */
  readonly max_tenants: number;
}

export interface AdminHttpConfig {
  readonly listen_addr: string;
  readonly port: number;
  /** Bearer token (non-enumerable); absent: only read-only endpoints are served. */
  readonly token?: string;
}

/** Workload isolation: how transactions are scheduled onto each database's server-connection budget. */
export type SchedulerMode = 'fair' | 'fifo' | 'shadow';
export type TenantKey = 'user' | 'database' | 'application_name' | 'option';

export interface TenantConfig {
  readonly weight: number;
  /** Slots guaranteed whenever the tenant has demand. */
  readonly reservation: number;
  /** Cap on concurrently held slots; Infinity = none. */
  readonly limit: number;
  /** Cap on connected clients; Infinity = none. */
  readonly max_clients: number;
  /** Cap on queued transactions; Infinity = none. */
  readonly max_queue: number;
  /** ms; 0 = query_wait_timeout. */
  readonly queue_timeout: number;
  readonly rate?: { readonly per_second: number; readonly burst: number; readonly mode: 'wait' | 'reject' };
}

export interface ClassConfig {
  readonly weight: number;
  readonly limit: number;
  /** ms; 0 = the tenant's timeout. */
  readonly queue_timeout: number;
  readonly elastic: boolean;
  readonly lane: 'short' | 'long';
  /** Slots of this class across all tenants of a budget; Infinity = none. */
  readonly total_limit: number;
}

export interface ClassRule {
  readonly application_name?: RegExp;
  readonly user?: string;
  readonly database?: string;
  readonly class: string;
}

export interface IsolationConfig {
  readonly mode: SchedulerMode;
  readonly headroom: { readonly min: number; readonly max: number };
  readonly burst_slot_seconds: number;
  /** ms: initial hold-time estimate of a new (tenant, class). */
  readonly default_cost: number;
  /** ms: statements whose average hold exceeds this move to the `long` class; 0 disables. */
  readonly long_threshold: number;
  /** ms without short-lane work after which the headroom is not kept; 0 keeps it always. */
  readonly headroom_fade: number;
  /** Refuse at once a transaction whose expected queue wait already exceeds its timeout. */
  readonly early_reject: boolean;
  /** CPU protection: elastic classes shrink when server-side latency of the rest grows. */
  readonly adaptive: { readonly enabled: boolean; readonly min_slots: number };
  readonly tenant_key: TenantKey;
  /** application_name / option value → tenant: the first capture group, or the whole match. */
  readonly tenant_pattern?: RegExp;
  /** Startup option carrying the tenant when tenant_key is `option` (sent as `-c sluice.tenant=…`). */
  readonly tenant_option: string;
  readonly default_tenant: TenantConfig;
  readonly tenants: ReadonlyMap<string, TenantConfig>;
  readonly classes: ReadonlyMap<string, ClassConfig>;
  readonly class_rules: readonly ClassRule[];
}
