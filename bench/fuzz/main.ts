// `npm run fuzz`: a throwaway Postgres, Sluice as its own process, one seeded fuzz run; exits 1 on a crash or a wrong answer.
import { randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { freePort, startLocalPostgres } from '../../lib/local-postgres/instance.js';
import { Cleanup } from '../core/cleanup.js';
import { startChild } from '../core/child.js';
import { waitForPort } from '../targets/auth-file.js';
import { fuzzEndpoint, fuzzSluiceConfig, prepareDatabase, type FuzzUsers } from './fuzz-setup.js';
import { errorLines } from './sluice-watch.js';
import { describePlan } from './plan-text.js';
import { Prng } from './prng.js';
import { describeReport, failed, runFuzz, type FuzzOptions } from './run-fuzz.js';
import { planSession } from './session-plan.js';

const USAGE = `usage: npm run fuzz -- [--seed N] [--messages N] [--concurrency N] [--good N] [--only I,J] [--show] [--log FILE]
Exits 1 when Sluice crashed or stopped serving, a client read an answer not its own, Sluice logged an
internal error, or a well-behaved client saw an error.

  --seed N         PRNG seed (default 1); the same seed sends the same sessions
  --messages N     frontend messages to send in all (default 20000)
  --concurrency N  hostile sessions at a time (default 24)
  --good N         well-behaved clients checking their answers meanwhile (default 2)
  --only I,J       replay only these sessions of the seed, one after another
  --show           print the plan of each --only session before running it
  --log FILE       write Sluice's log (info level) to FILE, and Postgres's to FILE.postgres`;

const DATABASE = 'app';
const USERS: FuzzUsers = {
  shared: { user: 'fuzz_shared', password: randomBytes(9).toString('base64url') },
  md5: { user: 'fuzz_md5', password: randomBytes(9).toString('base64url') },
};

type CliOptions = Omit<FuzzOptions, 'endpoint' | 'sluice' | 'defaults'> & { log?: string; show: boolean };

function parse(argv: string[]): CliOptions {
  const { values } = parseArgs({
    args: argv,
    options: {
      seed: { type: 'string', default: '1' },
      messages: { type: 'string', default: '20000' },
      concurrency: { type: 'string', default: '24' },
      good: { type: 'string', default: '2' },
      only: { type: 'string' },
      log: { type: 'string' },
      show: { type: 'boolean', default: false },
    },
  });
  const int = (name: string, text: string, min: number) => {
    const n = Number(text);
    if (!Number.isInteger(n) || n < min) throw new Error(`--${name} must be a whole number >= ${min}, got "${text}"`);
    return n;
  };
  return {
    seed: int('seed', values.seed!, 0),
    messages: int('messages', values.messages!, 1),
    concurrency: int('concurrency', values.concurrency!, 1),
    goodClients: int('good', values.good!, 0),
    only: values.only?.split(',').map((s) => int('only', s, 0)),
    progress: (line) => process.stderr.write(`${line}\n`),
    log: values.log,
    show: values.show!,
  };
}

async function startPostgres(cleanup: Cleanup, log?: string) {
  const logFile = log ? createWriteStream(log) : null;
  const server = await startLocalPostgres({
    hba: [`host all ${USERS.md5.user} 127.0.0.1/32 md5`],
    // With --log, every statement with its backend's pid, to follow a failure through the server.
    settings: logFile ? { log_statement: 'all', log_line_prefix: '%m [%p] %u ' } : undefined,
    log: logFile ? (line) => logFile.write(`${line}\n`) : undefined,
  });
  cleanup.add(() => server.stop());
  const run = async (db: string, sql: string, params?: unknown[]) => {
    const c = new pg.Client({ host: server.dataDir, port: server.port, user: server.superuser, database: db });
    await c.connect();
    try {
      return (await c.query(sql, params)).rows as Record<string, unknown>[];
    } finally {
      await c.end();
    }
  };
  await run('postgres', `CREATE DATABASE ${DATABASE}`);
  for (const [role, method] of [
    [USERS.shared, 'scram-sha-256'],
    [USERS.md5, 'md5'],
  ] as const) {
    await run('postgres', `SET password_encryption = '${method}'; CREATE ROLE ${role.user} LOGIN PASSWORD '${role.password}'`);
  }
  await run(DATABASE, `GRANT ALL ON SCHEMA public TO ${USERS.shared.user}, ${USERS.md5.user}`);
  return { server, query: (sql: string, params?: unknown[]) => run(DATABASE, sql, params) };
}

/** Sluice from the same compiled tree as this file (dist-bench/lib/cli.js), with its output kept for the report. */
async function startSluice(cleanup: Cleanup, config: Record<string, unknown>, port: number, log?: string, httpPort?: number) {
  const dir = await mkdtemp(path.join(tmpdir(), 'sluice-fuzz-'));
  cleanup.add(() => rm(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'sluice.yaml');
  await writeFile(file, JSON.stringify(config));
  const cli = fileURLToPath(new URL('../../lib/cli.js', import.meta.url));
  const logFile = log ? createWriteStream(log) : null;
  const errors: string[] = [];
  const child = startChild(cleanup, process.execPath, [cli, '--config', file], {
    env: { ...process.env, SLUICE_LOG_LEVEL: log ? 'info' : 'warn' },
    maxOutput: 256 * 1024,
    onLine: (line) => {
      logFile?.write(`${line}\n`);
      if (!line.startsWith('{')) return;
      try {
        errors.push(...errorLines([JSON.parse(line) as Record<string, unknown>]));
      } catch {
        // Not a log line (a stack trace's object literal, say): the exit report carries it.
      }
    },
  });
  await waitForPort('127.0.0.1', port, child.done);
  const exited = child.done.then((r) => `${r.signal ?? `exit ${r.code}`}; its last output:\n${child.tail()}`);
  return { pid: child.pid, exited, internalErrors: () => errors, heapUsedMb: httpPort ? () => heapUsedMb(httpPort) : undefined };
}

/** sluice_nodejs_heap_size_used_bytes from Sluice's /metrics, in MB; null when it cannot be read. */
async function heapUsedMb(httpPort: number): Promise<number | null> {
  try {
    const text = await (await fetch(`http://127.0.0.1:${httpPort}/metrics`)).text();
    const m = /^sluice_nodejs_heap_size_used_bytes (\S+)$/m.exec(text);
    return m ? Number(m[1]) / 2 ** 20 : null;
  } catch {
    return null;
  }
}

async function main(): Promise<number> {
  let opts: CliOptions;
  try {
    opts = parse(process.argv.slice(2));
  } catch (err) {
    console.error(`fuzz: ${(err as Error).message}\n\n${USAGE}`);
    return 2;
  }
  if (opts.show) for (const i of opts.only ?? []) console.log(describePlan(planSession(new Prng(opts.seed, i), i)).join('\n'));
  const cleanup = new Cleanup();
  cleanup.installSignalHandlers();
  try {
    const pgServer = await startPostgres(cleanup, opts.log && `${opts.log}.postgres`);
    const { defaults, sharedVerifier } = await prepareDatabase(pgServer.query, USERS);
    const port = await freePort();
    const httpPort = await freePort(); // /metrics, for the heap in use beside the RSS.
    const config = fuzzSluiceConfig({
      port,
      httpPort,
      pgHost: '127.0.0.1',
      pgPort: pgServer.server.port,
      database: DATABASE,
      users: USERS,
      sharedVerifier,
    });
    const sluice = await startSluice(cleanup, config, port, opts.log, httpPort);
    const report = await runFuzz({
      ...opts,
      settleRssMs: opts.only ? 0 : 60_000,
      endpoint: fuzzEndpoint(port, DATABASE, USERS),
      sluice,
      defaults,
    });
    console.log(describeReport(report).join('\n'));
    return failed(report) ? 1 : 0;
  } finally {
    await cleanup.runAll();
  }
}

main().then(
  (code) => process.exit(code),
  (err) => {
    console.error(`fuzz: ${(err as Error).stack ?? err}`);
    process.exit(1);
  },
);
