// Child process: one side of a wrong-password storm, either a good client logging in at a fixed rate or attackers looping on a wrong password.
import { summarize, type LatencySummary } from '../core/stats.js';
import { ScramKeyCache, WireClient, type WireConfig } from './wire-client.js';

/** argv[2] as JSON. A `good` run reports once at the end; an `attack` run prints `{"ready":true}` and reports after SIGTERM. */
export interface LoginStormSpec extends WireConfig {
  role: 'good' | 'attack';
  /** good: logins started per second, each on a new connection that logs in and closes. */
  rate?: number;
  /** good: how long to keep logging in. */
  seconds?: number;
  /** attack: connections, each reconnecting with the wrong password as soon as it is refused. */
  attackers?: number;
}

export interface GoodLoginReport {
  loginMs: LatencySummary;
  /** Error message (digits folded) → how many logins got it. */
  errors: Record<string, number>;
}

export interface AttackReport {
  attempts: number;
  perSecond: number;
  /** SQLSTATE or message → how many attempts ended with it. */
  outcomes: Record<string, number>;
}

/** Counts a message, its numbers folded (a SQLSTATE key is passed as is). */
function count(into: Record<string, number>, key: string, fold = true): void {
  const k = fold ? key.replace(/\d+(\.\d+)?/g, 'N') : key;
  into[k] = (into[k] ?? 0) + 1;
}

async function good(spec: LoginStormSpec): Promise<GoodLoginReport> {
  const cache = new ScramKeyCache();
  (await WireClient.connect(spec, cache)).close(); // PBKDF2 once, outside the measurement.
  const loginMs: number[] = [];
  const errors: Record<string, number> = {};
  const interval = 1000 / (spec.rate ?? 20);
  const end = performance.now() + (spec.seconds ?? 10) * 1000;
  const running: Promise<void>[] = [];
  for (let next = performance.now(); next < end; next += interval) {
    const wait = next - performance.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    running.push(
      (async () => {
        const t0 = performance.now();
        try {
          const c = await WireClient.connect(spec, cache);
          loginMs.push(performance.now() - t0);
          c.close();
        } catch (err) {
          count(errors, (err as Error).message);
        }
      })(),
    );
  }
  await Promise.all(running);
  return { loginMs: summarize(loginMs), errors };
}

async function attack(spec: LoginStormSpec): Promise<AttackReport> {
  const cache = new ScramKeyCache();
  const outcomes: Record<string, number> = {};
  let attempts = 0;
  let stopping = false;
  const started = performance.now();
  const loop = async (): Promise<void> => {
    while (!stopping) {
      attempts++;
      try {
        (await WireClient.connect(spec, cache)).close();
        count(outcomes, 'logged in', false);
      } catch (err) {
        count(outcomes, (err as Error).message.split(':')[0] ?? 'error', false);
      }
    }
  };
  const loops = Array.from({ length: spec.attackers ?? 50 }, loop);
  process.stdout.write(`${JSON.stringify({ ready: true })}\n`);
  await new Promise<void>((resolve) => process.once('SIGTERM', () => resolve()));
  stopping = true;
  const seconds = (performance.now() - started) / 1000;
  await Promise.all(loops);
  return { attempts, perSecond: attempts / seconds, outcomes };
}

const spec = JSON.parse(process.argv[2]!) as LoginStormSpec;
(spec.role === 'good' ? good(spec) : attack(spec)).then(
  (report) => {
    process.stdout.write(`${JSON.stringify(report)}\n`);
    process.exit(0);
  },
  (err) => {
    process.stderr.write(`login-storm: ${(err as Error).stack}\n`);
    process.exit(1);
  },
);
