// Owns the bench's child processes: spawning with a raised fd limit, capturing output, waiting, stopping.
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { createInterface } from 'node:readline';
import type { Cleanup } from './cleanup.js';

export interface ChildResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface Child {
  readonly process: ChildProcess;
  readonly pid: number;
  /** Resolves when it exited; never rejects. */
  readonly done: Promise<ChildResult>;
  /** The last lines it printed, for error messages. */
  tail(): string;
  /** Signal, then SIGKILL after `graceMs`; resolves when it exited. */
  stop(signal?: NodeJS.Signals, graceMs?: number): Promise<ChildResult>;
}

export interface ChildOptions {
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  uid?: number;
  gid?: number;
  /** Raise the soft open-files limit to this (capped at the hard limit) before exec. */
  fdLimit?: number;
  /** Keep at most this many characters of each stream (default 1 MiB). */
  maxOutput?: number;
  input?: string;
  /** Called with every complete output line, as it arrives. */
  onLine?: (line: string, stream: 'stdout' | 'stderr') => void;
}

const TAIL_CHARS = 4000;

function append(buffer: string, chunk: string, max: number): string {
  const joined = buffer + chunk;
  return joined.length > max ? joined.slice(joined.length - max) : joined;
}

/** `sh -c 'ulimit -n N; exec cmd args'`: exec keeps the pid, so /proc/<pid> is the program itself. */
function wrapped(cmd: string, args: string[], fdLimit: number | undefined): [string, string[]] {
  if (!fdLimit) return [cmd, args];
  const script =
    'h=$(ulimit -Hn); n="$1"; shift; [ "$h" = unlimited ] || [ "$h" -ge "$n" ] || n="$h"; ulimit -n "$n" 2>/dev/null; exec "$@"';
  return ['sh', ['-c', script, 'bench-fd-limit', String(fdLimit), cmd, ...args]];
}

/** Spawns a child whose lifetime the cleanup registry guards. */
export function startChild(cleanup: Cleanup, cmd: string, args: string[], opts: ChildOptions = {}): Child {
  const [file, argv] = wrapped(cmd, args, opts.fdLimit);
  const spawnOpts: SpawnOptions = { env: opts.env ?? process.env, cwd: opts.cwd, stdio: ['pipe', 'pipe', 'pipe'] };
  if (opts.uid !== undefined) Object.assign(spawnOpts, { uid: opts.uid, gid: opts.gid });
  const child = spawn(file, argv, spawnOpts);
  const max = opts.maxOutput ?? 1 << 20;
  let stdout = '';
  let stderr = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => (stdout = append(stdout, d, max)));
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr = append(stderr, d, max)));
  if (opts.onLine) {
    const onLine = opts.onLine;
    createInterface({ input: child.stdout! }).on('line', (line) => onLine(line, 'stdout'));
    createInterface({ input: child.stderr! }).on('line', (line) => onLine(line, 'stderr'));
  }
  child.stdin!.on('error', () => undefined);
  child.stdin!.end(opts.input ?? '');
  const forgetPid = child.pid ? cleanup.trackPid(child.pid) : () => undefined;
  const done = new Promise<ChildResult>((resolve) => {
    child.once('error', (err) => resolve({ code: -1, signal: null, stdout, stderr: `${stderr}\n${err.message}` }));
    child.once('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
  const stop = async (signal: NodeJS.Signals = 'SIGTERM', graceMs = 5000): Promise<ChildResult> => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill(signal);
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      await done;
      clearTimeout(timer);
    }
    return done;
  };
  const unregister = cleanup.add(() => stop('SIGKILL'));
  void done.then(() => {
    unregister();
    forgetPid();
  });
  return {
    process: child,
    pid: child.pid ?? -1,
    done,
    tail: () => (stderr + stdout).slice(-TAIL_CHARS).trim(),
    stop,
  };
}

/** Runs a child to completion; kills it after `timeoutMs`. */
export async function runChild(
  cleanup: Cleanup,
  cmd: string,
  args: string[],
  opts: ChildOptions & { timeoutMs?: number } = {},
): Promise<ChildResult> {
  const child = startChild(cleanup, cmd, args, opts);
  const timer = setTimeout(() => void child.stop('SIGKILL'), opts.timeoutMs ?? 600_000);
  const result = await child.done;
  clearTimeout(timer);
  return result;
}
