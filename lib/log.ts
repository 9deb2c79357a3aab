// The logger interface (pino underneath) and the redaction rules that keep secrets out of logs.
import { pino, type Logger as PinoLogger } from 'pino';

export type Logger = PinoLogger;

export interface LogOptions {
  level?: string;
  /** Where lines go; default stdout. Tests pass a stream to capture them. */
  destination?: NodeJS.WritableStream;
}

/** Field names whose values never reach a log line, whatever object they sit in. */
const REDACT = ['password', '*.password', '*.*.password', 'secret', '*.secret', 'token', '*.token', 'authorization', '*.authorization'];

export function createLogger(opts: LogOptions = {}): Logger {
  const options = {
    level: opts.level ?? process.env.SLUICE_LOG_LEVEL ?? 'info',
    base: { name: 'sluice' },
    redact: { paths: REDACT, censor: '[redacted]' },
  };
  return opts.destination ? pino(options, opts.destination as unknown as pino.DestinationStream) : pino(options);
}

/** A logger that drops everything, for tests that do not look at logs. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
