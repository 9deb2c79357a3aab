// The validated, frozen configuration snapshot that every other module reads.

export type PoolMode = 'session' | 'transaction';
export type AuthType = 'scram-sha-256' | 'md5' | 'plain' | 'trust';
export type SslMode = 'disable' | 'prefer' | 'require' | 'verify-ca' | 'verify-full';

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
}

export interface UserConfig {
  readonly name: string;
  readonly pool_mode?: PoolMode;
  readonly pool_size?: number;
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
  /** Secrets by user name, from auth_file merged with inline `users.*.password`. Non-enumerable values. */
  readonly secrets: ReadonlyMap<string, UserSecret>;
  readonly admin_users: readonly string[];
  readonly stats_users: readonly string[];
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
  readonly server_reset_query: string;
  readonly max_packet_size: number;
  readonly client_tls?: ClientTlsConfig;
  readonly server_tls: ServerTlsConfig;
  readonly databases: ReadonlyMap<string, DatabaseConfig>;
  readonly users: ReadonlyMap<string, UserConfig>;
}
