// A real pino logger whose lines are kept in memory, so tests can assert what Sluice logged.
import { Writable } from 'node:stream';
import { createLogger, type Logger } from '../../lib/log.js';

export interface CapturedLog {
  log: Logger;
  /** Every line logged so far, parsed. */
  lines(): Array<Record<string, any>>;
}

export function captureLog(level = 'info'): CapturedLog {
  const lines: Array<Record<string, any>> = [];
  let rest = '';
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      const text = rest + chunk.toString('utf8');
      const parts = text.split('\n');
      rest = parts.pop() ?? '';
      for (const p of parts) if (p) lines.push(JSON.parse(p));
      done();
    },
  });
  return { log: createLogger({ level, destination: sink }), lines: () => lines };
}
