// Runs a real client program (psql, pgbench) without blocking the event loop the in-process pooler lives on.
import { spawn } from 'node:child_process';

export interface RunResult {
  code: number | null;
  out: string;
  err: string;
}

export function run(
  cmd: string,
  args: string[],
  opts: { env?: NodeJS.ProcessEnv; input?: string; timeoutMs?: number } = {},
): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { env: opts.env ?? process.env, stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 60_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, out: out.trim(), err: err.trim() });
    });
    child.stdin.end(opts.input ?? '');
  });
}

/** psql in unaligned, tuples-only mode that stops at the first error. */
export function psql(args: string[], env: NodeJS.ProcessEnv, input?: string): Promise<RunResult> {
  return run('psql', ['-X', '-A', '-t', '-v', 'ON_ERROR_STOP=1', ...args], { env: { ...env, PG_COLOR: 'never' }, input });
}
