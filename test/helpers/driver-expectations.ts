// What every driver program (test/integration/drivers/) must observe, as one backend of Postgres would show it.
export type Target = 'direct' | 'session' | 'transaction';

/** One row of OBSERVE_SQL: the settings a client can see in its own transaction. */
export interface Observed {
  statement_timeout: string;
  lock_timeout: string;
  application_name: string;
  search_path: string;
  transaction_isolation: string;
  sees_marker: boolean;
}

/** Every driver reads its settings with this one query; the marker table exists only in the driver's own schema. */
export const OBSERVE_SQL = `select current_setting('statement_timeout') as statement_timeout,
  current_setting('lock_timeout') as lock_timeout, current_setting('application_name') as application_name,
  current_setting('search_path') as search_path, current_setting('transaction_isolation') as transaction_isolation,
  to_regclass('drv_marker') is not null as sees_marker`;

/** Sent in the startup packet (libpq/pgjdbc `options`, asyncpg `server_settings`) by the startup and reset checks. */
export const STARTUP = { applicationName: 'drv-startup', settings: { statement_timeout: '1234', lock_timeout: '4321' } };

/** prepared-concurrent: clients at once, each running the driver's three prepared statements this many rounds. */
export const CONCURRENT = { clients: 4, rounds: 30, statements: 3 };

/** Each DDL under `select * … order by id`, in order, and the rows it leaves (table: id int, a int, b text; 2 rows). */
export const DDL_STAGES: { stage: string; ddl: string; rows: unknown[][] }[] = [
  {
    stage: 'add column',
    ddl: 'add column c int default 7',
    rows: [
      [1, 10, 'x', 7],
      [2, 20, 'y', 7],
    ],
  },
  {
    stage: 'drop column',
    ddl: 'drop column b',
    rows: [
      [1, 10, 7],
      [2, 20, 7],
    ],
  },
  {
    stage: 'alter column type',
    ddl: 'alter column a type text using (a * 10)::text',
    rows: [
      [1, '100', 7],
      [2, '200', 7],
    ],
  },
];

/** Runs of the stale statement after each DDL, per client: a first 0A000, then the retry that must recover. */
export const DDL_ATTEMPTS = 3;

/**
 * Server connections per pool: transaction mode's few are shared by every client; session mode needs one per client.
 * The last check opens this many clients at once, to see every server connection (directly: as many backends).
 */
export const POOL_SIZE: Record<Target, number> = { direct: 2, session: 6, transaction: 2 };

/** What each check reports (its `got`), for a client whose fresh session shows `defaults`. */
export function expectedResults(target: Target, schema: string, defaults: Observed) {
  const bystander = { ...defaults, application_name: 'drv-bystander' };
  const startup = {
    ...defaults,
    application_name: STARTUP.applicationName,
    statement_timeout: `${STARTUP.settings.statement_timeout}ms`,
    lock_timeout: `${STARTUP.settings.lock_timeout}ms`,
  };
  const setter = {
    ...defaults,
    application_name: 'drv-setter',
    search_path: `${schema}, public`,
    statement_timeout: '4567ms',
    transaction_isolation: 'serializable',
    sees_marker: true,
  };
  return {
    // Only transaction mode moves a client between server connections; direct and session mode keep its one backend.
    'prepared-hop': { values: [2, 4], backends: target === 'transaction' ? 2 : 1 },
    'prepared-concurrent': { executions: CONCURRENT.clients * CONCURRENT.rounds * CONCURRENT.statements, wrong: 0, errors: [] },
    'startup-settings': { startup: [startup, startup, startup], bystander: [bystander, bystander, bystander] },
    reset: {
      afterSet: { ...startup, statement_timeout: '99ms', application_name: 'changed' },
      afterReset: startup,
      bystander,
      afterResetAll: startup,
    },
    'set-stays': {
      baseline: bystander,
      setter: [setter, setter, setter],
      bystander: [bystander, bystander, bystander],
      concurrent: { setter: [setter], bystander: [bystander] },
    },
    // After every client above has left, new clients find nothing of theirs on any server connection.
    leftovers: Array.from({ length: POOL_SIZE[target] }, () => bystander),
  };
}

export type ExpectedResults = ReturnType<typeof expectedResults>;
