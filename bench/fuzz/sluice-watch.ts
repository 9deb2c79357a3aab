// Owns watching the Sluice process under fuzz: did it exit, does it still accept and answer, and its resident memory.
import { readFile } from 'node:fs/promises';
import { serialize } from '../../lib/protocol/pg-protocol.js';
import type { FuzzEndpoint } from './fuzz-client.js';
import { login } from './wire-login.js';
import { WireSocket } from './wire-socket.js';

export interface SluiceProcess {
  pid: number;
  /** Resolves with how the process ended (exit code or signal, and its last output). */
  exited: Promise<string>;
  /** Its log lines at level error so far (an exception a fault boundary caught is one): each a Sluice bug. */
  internalErrors(): string[];
  /** V8 heap in use (MB) from its /metrics, when it serves them; null otherwise. */
  heapUsedMb?(): Promise<number | null>;
}

/** pino's level for error. */
const ERROR_LEVEL = 50;

/** Sluice's JSON log lines at level error or above, as short text; anything else is skipped. */
export function errorLines(lines: Iterable<{ level?: unknown; msg?: unknown; [k: string]: unknown }>): string[] {
  const out: string[] = [];
  for (const l of lines) if (typeof l.level === 'number' && l.level >= ERROR_LEVEL) out.push(JSON.stringify(l).slice(0, 600));
  return out;
}

const PROBE_EVERY_MS = 2000;
const PROBE_WAIT_MS = 15_000;
const RSS_EVERY_MS = 250;

/** Resident set size in MB, from /proc/<pid>/status; null once the process is gone. */
export async function rssMb(pid: number): Promise<number | null> {
  try {
    const status = await readFile(`/proc/${pid}/status`, 'utf8');
    const kb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1]);
    return Number.isFinite(kb) ? kb / 1024 : null;
  } catch {
    return null;
  }
}

/** A fresh client logs in and runs SELECT 1; resolves with what went wrong, or null. */
export async function probe(endpoint: FuzzEndpoint): Promise<string | null> {
  let sock: WireSocket;
  try {
    sock = await WireSocket.connect(endpoint.host, endpoint.port);
  } catch (err) {
    return `connect failed: ${(err as Error).message}`;
  }
  try {
    if ((await login(sock, { ...endpoint.md5, applicationName: 'fuzz_probe' }, null)) !== 'ready') return 'login failed';
    await sock.send(serialize.query('SELECT 1'));
    const { complete } = await sock.until((m) => m.name === 'readyForQuery', PROBE_WAIT_MS);
    return complete ? null : `no answer to SELECT 1 within ${PROBE_WAIT_MS} ms`;
  } finally {
    sock.destroy();
  }
}

export class SluiceWatch {
  /** Why Sluice counts as crashed: it exited, or stopped accepting or answering. */
  readonly crashes: string[] = [];
  peakRssMb = 0;
  private readonly timers: NodeJS.Timeout[] = [];
  private probing = false;
  private onCrash: () => void = () => undefined;

  constructor(
    private readonly sluice: SluiceProcess,
    private readonly endpoint: FuzzEndpoint,
  ) {}

  get crashed(): boolean {
    return this.crashes.length > 0;
  }

  /** Starts watching; `onCrash` runs at the first crash. */
  start(onCrash: () => void): void {
    this.onCrash = onCrash;
    void this.sluice.exited.then((how) => this.crash(`Sluice exited: ${how}`));
    this.timers.push(setInterval(() => void this.sampleRss(), RSS_EVERY_MS));
    this.timers.push(setInterval(() => void this.probeOnce(), PROBE_EVERY_MS));
  }

  stop(): void {
    for (const t of this.timers) clearInterval(t);
  }

  async sampleRss(): Promise<number | null> {
    const mb = await rssMb(this.sluice.pid);
    if (mb !== null) this.peakRssMb = Math.max(this.peakRssMb, mb);
    return mb;
  }

  async probeOnce(): Promise<void> {
    if (this.probing || this.crashed) return;
    this.probing = true;
    const problem = await probe(this.endpoint);
    this.probing = false;
    if (problem && !this.crashed) this.crash(`Sluice stopped serving: ${problem}`);
  }

  private crash(why: string): void {
    const first = !this.crashed;
    this.crashes.push(why);
    if (first) this.onCrash();
  }
}
