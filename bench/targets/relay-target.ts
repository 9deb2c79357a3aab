// Owns a bare relay process (bench/profile/bare-relay.ts) as a target, to measure the floor under Sluice.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from '../../lib/local-postgres/instance.js';
import type { Cleanup } from '../core/cleanup.js';
import { startChild, type Child } from '../core/child.js';
import { waitForPort } from './auth-file.js';
import type { BenchPostgres } from './bench-postgres.js';
import type { Endpoint, Target } from './target.js';

const HOST = '127.0.0.1';

export class RelayTarget implements Target {
  /** Reported as Sluice's kind: it stands where Sluice would, without pooling. */
  readonly name = 'sluice' as const;
  private child: Child | undefined;

  constructor(
    private readonly cleanup: Cleanup,
    private readonly postgres: BenchPostgres,
    readonly mode: 'stream' | 'onread' | 'handle',
    private readonly fdLimit: number,
  ) {}

  version(): string {
    return `bare relay (${this.mode})`;
  }

  async start(): Promise<Endpoint> {
    await this.stop();
    const port = await freePort();
    const script = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'profile', 'bare-relay.js');
    this.child = startChild(
      this.cleanup,
      process.execPath,
      ['--no-deprecation', script, this.mode, String(port), String(this.postgres.server.port)],
      {
        fdLimit: this.fdLimit,
      },
    );
    await waitForPort(HOST, port, this.child.done);
    return { target: this.name, host: HOST, port, pid: this.child.pid };
  }

  async stop(): Promise<void> {
    const child = this.child;
    this.child = undefined;
    if (child) await child.stop('SIGKILL', 1000);
  }
}
