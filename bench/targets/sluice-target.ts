// Owns Sluice as a separate process (node dist/cli.js) with a generated YAML config, so its CPU is its own.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { stringify } from 'yaml';
import { freePort } from '../../lib/local-postgres/instance.js';
import type { Cleanup } from '../core/cleanup.js';
import { startChild, type Child } from '../core/child.js';
import { renderUserlist, waitForPort } from './auth-file.js';
import type { BenchPostgres } from './bench-postgres.js';
import { DATABASE } from './bench-postgres.js';
import type { Endpoint, PoolSetup, Target } from './target.js';

const HOST = '127.0.0.1';

/**
 * Extra node options for the Sluice process, from BENCH_SLUICE_NODE_ARGS (split on spaces), e.g.
 * `--cpu-prof --cpu-prof-dir=bench/results/profiles` to profile it (see docs/performance.md).
 */
export function sluiceNodeArgs(env: NodeJS.ProcessEnv): string[] {
  return (env.BENCH_SLUICE_NODE_ARGS ?? '').split(/\s+/).filter(Boolean);
}

/** The YAML Sluice runs with: the same pool numbers PgBouncer gets, plus the scenario's isolation settings. */
export function sluiceConfig(setup: PoolSetup, pgPort: number, port: number): Record<string, unknown> {
  return {
    listen_addr: HOST,
    listen_port: port,
    auth_type: 'scram-sha-256',
    auth_file: './userlist.txt',
    pool_mode: 'transaction',
    default_pool_size: setup.poolSize,
    max_server_connections: setup.budget,
    max_client_conn: setup.maxClientConn,
    query_wait_timeout: setup.queryWaitTimeoutS,
    server_tls: { sslmode: 'disable' },
    databases: { [DATABASE]: { host: HOST, port: pgPort, dbname: DATABASE } },
    ...setup.sluice,
  };
}

/** Writes sluice.yaml and its users file into `dir`; returns the YAML's path. */
export async function writeSluiceFiles(
  dir: string,
  config: Record<string, unknown>,
  secrets: ReadonlyMap<string, string>,
): Promise<string> {
  await writeFile(path.join(dir, 'userlist.txt'), renderUserlist(secrets), { mode: 0o600 });
  const file = path.join(dir, 'sluice.yaml');
  await writeFile(file, stringify(config));
  return file;
}

export class SluiceTarget implements Target {
  readonly name = 'sluice' as const;
  private child: Child | undefined;
  private dir: string | undefined;
  private forgetDir: () => void = () => undefined;
  private nodeArgs: string[] = [];

  constructor(
    private readonly cleanup: Cleanup,
    private readonly postgres: BenchPostgres,
    /** dist/cli.js, built by tsc before the bench starts. */
    private readonly cliPath: string,
    private readonly fdLimit: number,
  ) {}

  version(): string {
    return 'Sluice (this commit)';
  }

  async start(setup: PoolSetup): Promise<Endpoint> {
    await this.stop();
    const dir = (this.dir = await mkdtemp(path.join(tmpdir(), 'sluice-bench-')));
    this.forgetDir = this.cleanup.add(() => rm(dir, { recursive: true, force: true }));
    const port = await freePort();
    const config = sluiceConfig(setup, this.postgres.server.port, port);
    const file = await writeSluiceFiles(dir, config, this.postgres.scramSecrets);
    const env = { ...process.env, SLUICE_LOG_LEVEL: 'warn' };
    this.nodeArgs = sluiceNodeArgs(process.env);
    this.child = startChild(this.cleanup, process.execPath, [...this.nodeArgs, this.cliPath, '--config', file], {
      env,
      fdLimit: this.fdLimit,
      maxOutput: 64 * 1024,
    });
    try {
      await waitForPort(HOST, port, this.child.done);
    } catch (err) {
      throw new Error(`Sluice did not start: ${(err as Error).message}\n${this.child.tail()}`);
    }
    return { target: this.name, host: HOST, port, pid: this.child.pid };
  }

  /** The process's last output, for reports when something failed. */
  tail(): string {
    return this.child?.tail() ?? '';
  }

  async stop(): Promise<void> {
    const child = this.child;
    this.child = undefined;
    // A profiler writes its file at exit: give it time before SIGKILL.
    if (child) await child.stop('SIGINT', this.nodeArgs.length > 0 ? 60_000 : 5000);
    if (this.dir) await rm(this.dir, { recursive: true, force: true });
    this.forgetDir();
    this.dir = undefined;
  }
}
