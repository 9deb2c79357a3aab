// Owns PgBouncer (Debian's package) as a non-root child process, configured to match Sluice's pools per scenario.
import { execFile } from 'node:child_process';
import { chown, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { freePort } from '../../lib/local-postgres/instance.js';
import { resolveRunAs, type RunAs } from '../../lib/local-postgres/binaries.js';
import type { Cleanup } from '../core/cleanup.js';
import { startChild, type Child } from '../core/child.js';
import { renderUserlist, waitForPort } from './auth-file.js';
import type { BenchPostgres } from './bench-postgres.js';
import { DATABASE } from './bench-postgres.js';
import type { Endpoint, PoolSetup, Target } from './target.js';

const HOST = '127.0.0.1';
export const PGBOUNCER_INSTALL_HINT = 'apt-get install -y pgbouncer';
/** Node's default listen() backlog, which Sluice uses; PgBouncer's own default is 128. */
const NODE_LISTEN_BACKLOG = 511;

/** Where the binary is, and its version line; undefined when it is not installed. */
export async function findPgbouncer(): Promise<{ path: string; version: string } | undefined> {
  for (const candidate of ['pgbouncer', '/usr/sbin/pgbouncer', '/usr/local/bin/pgbouncer']) {
    try {
      const { stdout } = await promisify(execFile)(candidate, ['--version']);
      return { path: candidate, version: stdout.split('\n')[0]!.trim() };
    } catch {
      // Try the next place.
    }
  }
  return undefined;
}

/** pgbouncer.ini for one scenario: transaction pooling, SCRAM, the same pool size and shared budget as Sluice. */
export function pgbouncerIni(setup: PoolSetup, pgPort: number, port: number, dir: string): string {
  return `[databases]
${DATABASE} = host=${HOST} port=${pgPort} dbname=${DATABASE}

[pgbouncer]
listen_addr = ${HOST}
listen_port = ${port}
unix_socket_dir =
auth_type = scram-sha-256
auth_file = ${path.join(dir, 'userlist.txt')}
pool_mode = transaction
default_pool_size = ${setup.poolSize}
max_db_connections = ${setup.budget}
max_client_conn = ${setup.maxClientConn}
query_wait_timeout = ${setup.queryWaitTimeoutS}
listen_backlog = ${NODE_LISTEN_BACKLOG}
server_tls_sslmode = disable
log_connections = 0
log_disconnections = 0
stats_period = 3600
`;
}

export class PgbouncerTarget implements Target {
  readonly name = 'pgbouncer' as const;
  private child: Child | undefined;
  private dir: string | undefined;
  private forgetDir: () => void = () => undefined;
  /** PgBouncer refuses to run as root; as root we run it as the OS user Postgres runs as. */
  private readonly runAs: RunAs | undefined = resolveRunAs();

  constructor(
    private readonly cleanup: Cleanup,
    private readonly postgres: BenchPostgres,
    private readonly binary: { path: string; version: string },
    private readonly fdLimit: number,
  ) {}

  version(): string {
    return this.binary.version;
  }

  async start(setup: PoolSetup): Promise<Endpoint> {
    await this.stop();
    const dir = (this.dir = await mkdtemp(path.join(tmpdir(), 'pgbouncer-bench-')));
    this.forgetDir = this.cleanup.add(() => rm(dir, { recursive: true, force: true }));
    const port = await freePort();
    await this.writeOwned('userlist.txt', renderUserlist(this.postgres.scramSecrets));
    await this.writeOwned('pgbouncer.ini', pgbouncerIni(setup, this.postgres.server.port, port, dir));
    if (this.runAs) await chown(dir, this.runAs.uid, this.runAs.gid);
    this.child = startChild(this.cleanup, this.binary.path, [path.join(dir, 'pgbouncer.ini')], {
      ...this.runAs,
      cwd: dir,
      fdLimit: this.fdLimit,
      maxOutput: 64 * 1024,
    });
    try {
      await waitForPort(HOST, port, this.child.done);
    } catch (err) {
      throw new Error(`PgBouncer did not start: ${(err as Error).message}\n${this.child.tail()}`);
    }
    return { target: this.name, host: HOST, port, pid: this.child.pid };
  }

  tail(): string {
    return this.child?.tail() ?? '';
  }

  private async writeOwned(name: string, content: string): Promise<void> {
    const file = path.join(this.dir!, name);
    await writeFile(file, content, { mode: 0o600 });
    if (this.runAs) await chown(file, this.runAs.uid, this.runAs.gid);
  }

  async stop(): Promise<void> {
    const child = this.child;
    this.child = undefined;
    // SIGTERM is PgBouncer 1.18's immediate shutdown; SIGINT would wait for clients.
    if (child) await child.stop('SIGTERM', 5000);
    if (this.dir) await rm(this.dir, { recursive: true, force: true });
    this.forgetDir();
    this.dir = undefined;
  }
}
