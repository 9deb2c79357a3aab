// Owns the table of every PgBouncer 1.25 setting and what Sluice has for it; the importer and the migration guide both follow it.

/** `mapped`: Sluice has it (maybe under another name); `planned`: issue 17 adds it; `unsupported`: Sluice does not do it. */
export type SettingStatus = 'mapped' | 'planned' | 'unsupported';

export interface SettingInfo {
  readonly status: SettingStatus;
  /** The Sluice setting, for mapped ones. */
  readonly sluice?: string;
  /** Why not (unsupported), what is coming (planned), or what differs (mapped). */
  readonly note?: string;
}

const mapped = (sluice: string, note?: string): SettingInfo =>
  note === undefined ? { status: 'mapped', sluice } : { status: 'mapped', sluice, note };
const planned = (note: string): SettingInfo => ({ status: 'planned', note });
const unsupported = (note: string): SettingInfo => ({ status: 'unsupported', note });

const NODE_TLS = unsupported("Sluice uses Node.js's TLS defaults (TLS 1.2 and newer, OpenSSL's default ciphers and curves)");
const NO_DNS_CACHE = unsupported('Sluice resolves host names with the system resolver at each connect and keeps no DNS cache of its own');
const NO_PEERS = unsupported('Sluice has no peering: cancel requests are not forwarded between Sluice processes');
const NO_RESERVE = unsupported(
  'Sluice opens no connections beyond the pool; waiting transactions are queued fairly instead (raise the pool size, or give tenants a reservation)',
);
const NO_SYSLOG = unsupported('Sluice writes JSON log lines to stdout; forward them with your supervisor (journald, Docker, Kubernetes)');
const SERVER_DEFAULTS = unsupported(
  'Sluice sets no per-database server defaults; set them in Postgres (ALTER DATABASE … SET) or let clients send them, which Sluice carries from connection to connection',
);

/** The [pgbouncer] section: all 99 settings of PgBouncer 1.25's doc/config.md, in its order. */
export const PGBOUNCER_SETTINGS: Readonly<Record<string, SettingInfo>> = {
  logfile: planned('logfile (issue 17); today Sluice logs JSON to stdout'),
  pidfile: planned('pidfile (issue 17)'),
  listen_addr: mapped('listen_addr', 'one address: `*` becomes 0.0.0.0 (IPv4 only), a list keeps its first address'),
  listen_port: mapped('listen_port'),
  unix_socket_dir: mapped(
    'unix_socket_dir',
    "not set by default (PgBouncer's is /tmp), so Sluice listens on TCP only unless it is set; it does not apply to server connections: give databases a socket directory as host",
  ),
  unix_socket_mode: mapped('unix_socket_mode', 'a quoted octal string in YAML, such as "0777"'),
  unix_socket_group: mapped('unix_socket_group'),
  user: unsupported("Sluice does not switch users after start; run it as the intended user (systemd User=, a container's USER)"),
  pool_mode: mapped('pool_mode', "`statement` is not supported; PgBouncer's default is `session`, Sluice's `transaction`"),
  max_client_conn: mapped('max_client_conn', "PgBouncer's default is 100, Sluice's 1000"),
  default_pool_size: mapped('default_pool_size'),
  min_pool_size: mapped('min_pool_size'),
  reserve_pool_size: NO_RESERVE,
  reserve_pool_timeout: NO_RESERVE,
  max_db_connections: mapped('max_server_connections', 'a shared budget per database that tenants are scheduled on, not just a cap'),
  max_db_client_connections: unsupported(
    'Sluice has no per-database client cap; max_client_conn is global (with `tenant_key: database`, `tenants.<db>.max_clients` caps clients per database)',
  ),
  max_user_connections: mapped(
    'tenants.<user>.limit',
    "one tenant per user (tenant_key: user); the limit applies in each database's budget, not across all databases",
  ),
  max_user_client_connections: mapped('tenants.<user>.max_clients', 'the global value becomes tenants.default.max_clients'),
  server_round_robin: planned('server_round_robin (issue 17)'),
  track_extra_parameters: planned(
    'track_extra_parameters (issue 17); every session setting already follows its client from one server connection to the next',
  ),
  ignore_startup_parameters: mapped('ignore_startup_parameters'),
  peer_id: NO_PEERS,
  disable_pqexec: unsupported('Sluice cannot refuse multi-statement simple queries'),
  application_name_add_host: planned('application_name_add_host (issue 17)'),
  conffile: unsupported('the config file is named on the command line (--config) and is not a setting'),
  service_name: unsupported('it names a Windows service, and Sluice does not run as one'),
  job_name: unsupported('it is an alias of service_name, which names a Windows service'),
  stats_period: mapped('stats_period'),
  max_prepared_statements: mapped('max_prepared_statements'),
  scram_iterations: unsupported('Sluice derives SCRAM secrets from plain-text passwords with 4096 iterations, fixed'),
  auth_type: mapped('auth_type', 'md5, scram-sha-256, plain, trust and hba; cert, pam, ldap, peer and any are not supported'),
  auth_hba_file: mapped('auth_hba_file', 'rules asking for cert, peer or ldap refuse the login they match'),
  auth_ident_file: unsupported('ident maps serve cert and peer logins, which Sluice does not do'),
  auth_file: mapped('auth_file', 'same userlist.txt format; a relative path is relative to the YAML file, not the working directory'),
  auth_user: planned('auth_user (issue 17)'),
  auth_query: planned('auth_query (issue 17)'),
  auth_dbname: planned('auth_dbname (issue 17)'),
  auth_ldap_options: unsupported('Sluice does not do LDAP authentication'),
  syslog: NO_SYSLOG,
  syslog_ident: NO_SYSLOG,
  syslog_facility: NO_SYSLOG,
  log_connections: planned('log_connections (issue 17)'),
  log_disconnections: planned('log_disconnections (issue 17); today every disconnect is logged with its reason'),
  log_pooler_errors: planned('log_pooler_errors (issue 17)'),
  log_stats: unsupported('Sluice keeps statistics in SHOW STATS and the Prometheus metrics, not in periodic log lines'),
  verbose: unsupported('the log level is set by the SLUICE_LOG_LEVEL environment variable (debug, trace)'),
  admin_users: mapped('admin_users', 'a YAML list instead of a comma-separated string'),
  stats_users: mapped('stats_users', 'a YAML list instead of a comma-separated string'),
  server_reset_query: mapped('server_reset_query'),
  server_reset_query_always: unsupported(
    'in transaction mode every setting follows its client, so there is nothing to reset between transactions; clients pinned by `session_state: pin` get server_reset_query when they leave',
  ),
  server_check_delay: planned('server_check_delay (issue 17)'),
  server_check_query: planned('server_check_query (issue 17)'),
  server_fast_close: planned('server_fast_close (issue 17)'),
  server_lifetime: mapped('server_lifetime'),
  server_idle_timeout: mapped('server_idle_timeout'),
  server_connect_timeout: mapped('server_connect_timeout'),
  server_login_retry: planned('server_login_retry (issue 17)'),
  client_login_timeout: mapped('client_login_timeout'),
  autodb_idle_timeout: planned('autodb_idle_timeout, with wildcard databases (issue 17)'),
  dns_max_ttl: NO_DNS_CACHE,
  dns_nxdomain_ttl: NO_DNS_CACHE,
  dns_zone_check_period: NO_DNS_CACHE,
  resolv_conf: NO_DNS_CACHE,
  query_wait_notify: unsupported('Sluice sends no NOTICE to a queued client; queue waits show in SHOW TENANTS and the metrics'),
  client_tls_sslmode: mapped(
    'client_tls',
    'set client_tls to offer TLS; Sluice does not refuse clients without TLS (require) nor check client certificates (verify-ca, verify-full)',
  ),
  client_tls_key_file: mapped('client_tls.key_file'),
  client_tls_cert_file: mapped('client_tls.cert_file'),
  client_tls_ca_file: mapped('client_tls.ca_file', 'accepted, but client certificates are not requested'),
  client_tls_protocols: NODE_TLS,
  client_tls_ciphers: NODE_TLS,
  client_tls13_ciphers: NODE_TLS,
  client_tls_ecdhcurve: NODE_TLS,
  client_tls_dheparams: NODE_TLS,
  server_tls_sslmode: mapped('server_tls.sslmode', '`allow` becomes `prefer`'),
  server_tls_ca_file: mapped('server_tls.ca_file'),
  server_tls_key_file: unsupported('Sluice presents no client certificate to Postgres'),
  server_tls_cert_file: unsupported('Sluice presents no client certificate to Postgres'),
  server_tls_protocols: NODE_TLS,
  server_tls_ciphers: NODE_TLS,
  server_tls13_ciphers: NODE_TLS,
  query_timeout: mapped('query_timeout', 'the query is canceled in Postgres (a CancelRequest) before its client is closed'),
  query_wait_timeout: mapped('query_wait_timeout', 'tenants and classes can set shorter queue timeouts'),
  cancel_wait_timeout: planned('cancel_wait_timeout (issue 17)'),
  client_idle_timeout: mapped('client_idle_timeout'),
  idle_transaction_timeout: mapped('idle_transaction_timeout'),
  transaction_timeout: mapped('transaction_timeout', 'counts from the first request that reached a server'),
  suspend_timeout: unsupported('Sluice has no SUSPEND and no online restart'),
  pkt_buf: mapped('pkt_buf', "the same bound on buffered bytes per client; Sluice's default is 256 KiB, not 4 KiB"),
  max_packet_size: mapped('max_packet_size', "at most 1073741823, Postgres' own limit"),
  listen_backlog: unsupported("Sluice uses Node.js's listen backlog (511)"),
  sbuf_loopcnt: unsupported("it tunes PgBouncer's own event loop; Node.js's event loop has no such knob"),
  so_reuseport: unsupported('Sluice is one process per listener'),
  tcp_defer_accept: unsupported('Node.js does not expose TCP_DEFER_ACCEPT'),
  tcp_socket_buffer: unsupported('Node.js does not expose socket buffer sizes'),
  tcp_keepalive: mapped('tcp_keepalive'),
  tcp_keepcnt: mapped('tcp_keepcnt', 'Linux only, as TCP_USER_TIMEOUT'),
  tcp_keepidle: mapped('tcp_keepidle'),
  tcp_keepintvl: mapped('tcp_keepintvl', 'Linux only, as TCP_USER_TIMEOUT'),
  tcp_user_timeout: mapped('tcp_user_timeout', 'milliseconds, as in PgBouncer; Linux only'),
};

/** Parameters of a [databases] connection string. */
export const DATABASE_PARAMETERS: Readonly<Record<string, SettingInfo>> = {
  dbname: mapped('databases.<name>.dbname'),
  host: mapped(
    'databases.<name>.host',
    'one host name or address, or a Unix socket directory (`/…`, or `@…` in the abstract namespace); host lists are not supported',
  ),
  port: mapped('databases.<name>.port'),
  user: mapped('databases.<name>.user'),
  password: mapped('databases.<name>.password'),
  auth_user: planned('auth_user (issue 17)'),
  auth_query: planned('auth_query (issue 17)'),
  auth_dbname: planned('auth_dbname (issue 17)'),
  pool_size: mapped('databases.<name>.pool_size'),
  min_pool_size: mapped('databases.<name>.min_pool_size'),
  reserve_pool_size: NO_RESERVE,
  reserve_pool: NO_RESERVE,
  connect_query: planned('connect_query (issue 17)'),
  pool_mode: mapped('databases.<name>.pool_mode', '`statement` is not supported'),
  load_balance_hosts: unsupported('Sluice connects to one host per database'),
  max_db_connections: mapped('databases.<name>.max_server_connections'),
  max_db_client_connections: unsupported('Sluice has no per-database client cap'),
  server_lifetime: unsupported('server_lifetime is global in Sluice'),
  client_encoding: SERVER_DEFAULTS,
  datestyle: SERVER_DEFAULTS,
  timezone: SERVER_DEFAULTS,
  application_name: unsupported(
    "Sluice sets no default application_name on server connections; clients' own application_name is passed on",
  ),
};

/** Settings of a [users] line. */
export const USER_PARAMETERS: Readonly<Record<string, SettingInfo>> = {
  pool_size: mapped('users.<name>.pool_size'),
  reserve_pool_size: NO_RESERVE,
  pool_mode: mapped('users.<name>.pool_mode', '`statement` is not supported'),
  max_user_connections: mapped('tenants.<name>.limit', "applies in each database's budget"),
  query_timeout: planned('query_timeout (issue 17)'),
  idle_transaction_timeout: unsupported('idle_transaction_timeout is global in Sluice'),
  transaction_timeout: planned('transaction_timeout (issue 17)'),
  client_idle_timeout: unsupported('client_idle_timeout is global in Sluice'),
  max_user_client_connections: mapped('tenants.<name>.max_clients'),
};

/** Parameters of a [peers] line. */
export const PEER_PARAMETERS: Readonly<Record<string, SettingInfo>> = {
  host: NO_PEERS,
  port: NO_PEERS,
  pool_size: NO_PEERS,
};
