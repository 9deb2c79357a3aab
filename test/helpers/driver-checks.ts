// Runs a real driver's check program (test/integration/drivers/) directly against Postgres and through Sluice in both pool modes, and asserts each check it reports.
import type { Test } from 'tap';
import { run } from './run.js';
import { APP_DB, ROLES, type TestPostgres } from './postgres.js';
import { startSluice } from './sluice.js';
import {
  CONCURRENT,
  DDL_ATTEMPTS,
  DDL_STAGES,
  POOL_SIZE,
  OBSERVE_SQL,
  STARTUP,
  expectedResults,
  type Observed,
  type Target,
} from './driver-expectations.js';

export interface DriverProgram {
  /** Names the driver's schema and tables, so files sharing one SLUICE_TEST_PG server never meet. */
  name: string;
  cmd: string;
  /** The config (JSON) is appended as the last argument. */
  args: string[];
  /**
   * Whether the driver itself recovers, outside a transaction, from a statement made stale by DDL (asyncpg re-prepares
   * and retries; pgjdbc re-prepares on the next execution). psycopg does not: on one backend it keeps failing until a
   * ROLLBACK or DROP clears its cache, so only "never wrong rows" is asserted for it there.
   */
  recoversInAutocommit: boolean;
}

interface Endpoint {
  host: string;
  port: number;
  user: string;
  password: string;
  database: string;
}

type Line = { check: string; got?: any; failed?: unknown };

/** Slow enough for a JVM on 2 busy cores; three hung runs still end before tap's 180 s timeout for the file. */
const PROGRAM_TIMEOUT_MS = 50_000;

function config(program: DriverProgram, target: Target, endpoint: Endpoint, pg: TestPostgres): string {
  return JSON.stringify({
    target: endpoint,
    admin: { host: pg.host, port: pg.port, user: pg.superuser, password: pg.password, database: APP_DB },
    schema: `${program.name}_schema`,
    table: `${program.name}_${target}_ddl`,
    observeSql: OBSERVE_SQL,
    startup: STARTUP,
    concurrentClients: CONCURRENT.clients,
    concurrentRounds: CONCURRENT.rounds,
    ddl: DDL_STAGES.map((s) => [s.stage, s.ddl]),
    ddlAttempts: DDL_ATTEMPTS,
    leftoverClients: POOL_SIZE[target],
  });
}

function parseLines(out: string): Map<string, Line> {
  const lines = new Map<string, Line>();
  for (const text of out.split('\n')) {
    if (!text.startsWith('{')) continue;
    const line = JSON.parse(text) as Line;
    lines.set(line.check, line);
  }
  return lines;
}

/** A statement made stale by DDL may fail with 0A000 (as on one backend); any other answer must be the new rows. */
function assertDdl(t: Test, got: any, program: DriverProgram) {
  for (const { stage, rows } of DDL_STAGES) {
    for (const how of ['autocommit', 'transaction'] as const) {
      const attempts: unknown[] = got?.[stage]?.[how] ?? [];
      const label = `${stage}, ${how}`;
      t.equal(attempts.length, DDL_ATTEMPTS, `${label}: ${DDL_ATTEMPTS} attempts ran`);
      const wrong = attempts.filter((a) => (a as { error?: string }).error !== '0A000' && JSON.stringify(a) !== JSON.stringify(rows));
      t.strictSame(wrong, [], `${label}: every attempt gave the new rows or 0A000, never other rows or errors`);
      if (how === 'transaction' || program.recoversInAutocommit) {
        t.strictSame(attempts.at(-1), rows, `${label}: the driver recovers and reads the new rows`);
      }
    }
  }
}

async function runTarget(t: Test, program: DriverProgram, target: Target, endpoint: Endpoint, pg: TestPostgres, defaults: Observed) {
  const r = await run(program.cmd, [...program.args, config(program, target, endpoint, pg)], { timeoutMs: PROGRAM_TIMEOUT_MS });
  const lines = parseLines(r.out);
  // Like SLUICE_TEST_LOG: what the program printed, to read a failure in full.
  if (process.env.SLUICE_TEST_DRIVER_OUT) process.stderr.write(`[${program.name} ${target}]\n${r.out}\n`);
  const context = `(exit ${r.code}; stderr: ${r.err.slice(-1500)})`;
  const expected = expectedResults(target, `${program.name}_schema`, defaults);
  for (const check of ['ddl', ...Object.keys(expected)]) {
    const line = lines.get(check);
    if (!line || line.failed) {
      t.fail(`${check}: ${line ? `failed: ${JSON.stringify(line.failed)}` : `no result ${context}`}`);
      continue;
    }
    if (check === 'ddl') assertDdl(t, line.got, program);
    else t.strictSame(line.got, expected[check as keyof typeof expected], check);
  }
  t.equal(r.code, 0, `the program exited cleanly ${context}`);
}

/** The checks, on `pg` directly (proving the expectations), then through Sluice in session and transaction mode. */
export async function runDriverChecks(t: Test, pg: TestPostgres, program: DriverProgram): Promise<void> {
  const schema = `${program.name}_schema`;
  await pg.query(`create schema if not exists ${schema} authorization alice;
    create table if not exists ${schema}.drv_marker (x int); grant select on ${schema}.drv_marker to alice`);
  const [defaults] = (await pg.query(OBSERVE_SQL)) as Observed[]; // The marker is in no schema on its path.
  const alice = { user: ROLES.alice.user, password: ROLES.alice.password, database: APP_DB };
  const direct = { host: pg.host, port: pg.port, ...alice };
  await t.test(`${program.name}, directly on Postgres ${pg.version}`, (t) => runTarget(t, program, 'direct', direct, pg, defaults));
  for (const mode of ['session', 'transaction'] as const) {
    await t.test(`${program.name} through Sluice, ${mode} mode, pool of ${POOL_SIZE[mode]}`, async (t) => {
      const sluice = await startSluice(t, pg, { pool_mode: mode, default_pool_size: POOL_SIZE[mode] });
      await runTarget(t, program, mode, { host: '127.0.0.1', port: sluice.port, ...alice }, pg, defaults);
    });
  }
}
