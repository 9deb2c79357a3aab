// Owns what a benchmark target is: direct Postgres, PgBouncer or Sluice, each started for one pool setup.

export type TargetName = 'direct' | 'pgbouncer' | 'sluice';

export const TARGET_LABELS: Record<TargetName, string> = {
  direct: 'Postgres (direct)',
  pgbouncer: 'PgBouncer',
  sluice: 'Sluice',
};

/** One scenario's pool settings; both poolers get the same numbers. */
export interface PoolSetup {
  /** Server connections per (database, user) pool. */
  poolSize: number;
  /** Server connections all pools of the database share (PgBouncer max_db_connections, Sluice max_server_connections). */
  budget: number;
  /** Seconds a transaction may wait for a server connection. */
  queryWaitTimeoutS: number;
  maxClientConn: number;
  /** Sluice's isolation settings (YAML keys: scheduler, tenants, classes, class_rules); PgBouncer has none. */
  sluice?: Record<string, unknown>;
}

export interface Endpoint {
  target: TargetName;
  host: string;
  port: number;
  /** The pooler process whose CPU and memory are measured; absent for direct Postgres. */
  pid?: number;
}

export interface Target {
  readonly name: TargetName;
  /** e.g. "PgBouncer 1.18.0"; filled once started. */
  version(): string;
  /** Starts with this setup (stopping a previous instance first) and returns where clients connect. */
  start(setup: PoolSetup): Promise<Endpoint>;
  stop(): Promise<void>;
}

export const DEFAULT_POOL: PoolSetup = {
  poolSize: 20,
  budget: 20,
  queryWaitTimeoutS: 120,
  maxClientConn: 12_000,
};
