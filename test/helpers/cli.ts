// Runs the real `sluice` CLI (lib/cli.ts through tap's TypeScript loader) as a child process and reads its JSON log lines.
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { TeardownHost } from './postgres.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const CLI = fileURLToPath(new URL('../../lib/cli.ts', import.meta.url));

/** The loader tap runs this test with, so the child runs the same TypeScript sources. */
function typescriptLoader(): string[] {
  const tsImport = process.execArgv.find((a) => a.includes('@tapjs/typescript'));
  return [tsImport ?? `--import=${new URL('../../node_modules/@tapjs/typescript/dist/esm/import.mjs', import.meta.url).href}`];
}

export interface LogLine {
  msg?: string;
  level?: number;
  [key: string]: unknown;
}

export interface CliProcess {
  child: ChildProcess;
  /** Every JSON log line so far, and the raw stdout/stderr text. */
  lines: LogLine[];
  stdout(): string;
  stderr(): string;
  /** Resolves with the first log line whose msg matches. */
  waitForLog(msg: string | RegExp, timeoutMs?: number): Promise<LogLine>;
  /** Resolves with the exit code (null when killed by a signal). */
  exited: Promise<number | null>;
  port: number;
}

export async function startCli(t: TeardownHost, configPath: string, env: NodeJS.ProcessEnv = {}): Promise<CliProcess> {
  const child = spawn(process.execPath, [...typescriptLoader(), CLI, '--config', configPath], {
    cwd: ROOT,
    env: { ...process.env, TS_NODE_TRANSPILE_ONLY: '1', SLUICE_LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: LogLine[] = [];
  let out = '';
  let err = '';
  let partial = '';
  const waiters: Array<{ match: (l: LogLine) => boolean; resolve: (l: LogLine) => void }> = [];
  child.stdout!.setEncoding('utf8').on('data', (d: string) => {
    out += d;
    partial += d;
    const parts = partial.split('\n');
    partial = parts.pop()!;
    for (const p of parts) {
      let line: LogLine;
      try {
        line = JSON.parse(p) as LogLine;
      } catch {
        continue;
      }
      lines.push(line);
      for (const w of [...waiters]) {
        if (!w.match(line)) continue;
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(line);
      }
    }
  });
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (err += d));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  t.teardown(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  const matches = (msg: string | RegExp) => (l: LogLine) =>
    typeof l.msg === 'string' && (typeof msg === 'string' ? l.msg === msg : msg.test(l.msg));
  const waitForLog = (msg: string | RegExp, timeoutMs = 30_000): Promise<LogLine> => {
    const seen = lines.find(matches(msg));
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no log line ${String(msg)} within ${timeoutMs} ms; stderr: ${err}`)), timeoutMs);
      waiters.push({ match: matches(msg), resolve: (l) => (clearTimeout(timer), resolve(l)) });
      void exited.then((code) => reject(new Error(`sluice exited (${code}) before logging ${String(msg)}; stderr: ${err}`)));
    });
  };
  // Generous: the child compiles lib/ on start, which is slow on a loaded machine.
  const listening = await waitForLog('listening', 90_000);
  return { child, lines, stdout: () => out, stderr: () => err, waitForLog, exited, port: Number(listening.port) };
}

/** Runs `sluice ARGS` to its end (a subcommand such as `import`); its exit code and output. */
export function runCli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [...typescriptLoader(), CLI, ...args],
      { cwd: ROOT, env: { ...process.env, TS_NODE_TRANSPILE_ONLY: '1' } },
      (err, stdout, stderr) => resolve({ code: err === null ? 0 : Number((err as { code?: number }).code ?? 1), stdout, stderr }),
    );
  });
}
