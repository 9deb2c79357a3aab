// The public API for embedding Sluice in a Node program: the pooler, its configuration, its errors.
export { Pooler, type PoolerOptions } from './pooler.js';
export { loadConfigFile, loadConfigText, diffConfig, type ConfigDiff } from './config/load.js';
export { parseConfig, ConfigError, DEFAULTS, type ParseOptions } from './config/schema.js';
export type { SluiceConfig, DatabaseConfig, TenantConfig, ClassConfig } from './config/types.js';
export { ERRORS, PoolerError, type ErrorCode, type Severity } from './errors.js';
export { createLogger, silentLogger, type Logger, type LogOptions } from './log.js';
export { systemClock, type Clock, type TimerHandle } from './clock.js';
export { startLocalPostgres, type LocalPostgres, type LocalPostgresOptions } from './local-postgres/instance.js';
export { VERSION } from './version.js';
