// Owns a well-behaved client beside the fuzz: node-postgres queries and raw COPY in a loop, each answer checked to be exactly its own.
import pg from 'pg';
import { serialize } from '../../lib/protocol/pg-protocol.js';
import type { FuzzEndpoint } from './fuzz-client.js';
import { Prng } from './prng.js';
import { login } from './wire-login.js';
import { drawSplit, WireSocket, type BackendMsg } from './wire-socket.js';

export interface GoodTally {
  /** Answers checked and found right. */
  checks: number;
  /** Answers that came back but were not this client's (or were wrong). */
  wrong: string[];
  /** Errors and lost connections this client saw (a sample of the first few messages). */
  errors: number;
  errorSamples: string[];
}

/** Settings of a fresh session, which no fuzz client's SET may change for this one. */
export interface Defaults {
  searchPath: string;
  workMem: string;
}

const ANSWER_WAIT_MS = 30_000;
const COPY_ROWS = 20;
const SAMPLES = 8;

class Check {
  constructor(
    private readonly tally: GoodTally,
    private readonly who: string,
    private readonly onWrong: (what: string) => void,
  ) {}

  equal(what: string, got: unknown, want: unknown): void {
    if (JSON.stringify(got) === JSON.stringify(want)) return void this.tally.checks++;
    const wrong = `${this.who}: ${what}: got ${JSON.stringify(got)}, want ${JSON.stringify(want)}`;
    this.tally.wrong.push(wrong);
    this.onWrong(wrong);
  }
}

/** One round over node-postgres: a parameter echo with the session settings, a named prepared statement, a transaction. */
async function pgRound(client: pg.Client, token: string, app: string, defaults: Defaults, check: Check): Promise<void> {
  const echo = await client.query(
    "SELECT $1::text AS t, current_setting('application_name') AS app, current_setting('search_path') AS sp, current_setting('work_mem') AS wm, pg_backend_pid() AS pid",
    [token],
  );
  const { pid, ...settings } = echo.rows[0] ?? {};
  // The backend's pid names the server connection in a failure, to follow it through Postgres's log.
  check.equal(`echo on backend ${pid}`, [settings], [{ t: token, app, sp: defaults.searchPath, wm: defaults.workMem }]);
  const prepared = await client.query({ name: 'good_echo', text: 'SELECT $1::text AS t, $2::int + 1 AS n', values: [token, 41] });
  check.equal('prepared', prepared.rows, [{ t: token, n: 42 }]);
  await client.query('BEGIN');
  const inTx = await client.query({ text: 'SELECT $1::text AS t', values: [`${token}/tx`] });
  await client.query('COMMIT');
  check.equal('transaction', inTx.rows, [{ t: `${token}/tx` }]);
  const shown = await client.query('SHOW application_name');
  check.equal('SHOW application_name', shown.rows, [{ application_name: app }]);
}

function copyLines(messages: BackendMsg[]): string[] {
  return messages.filter((m) => m.name === 'copyData').map((m) => (m.chunk as Buffer).toString());
}

async function answer(sock: WireSocket, what: string): Promise<BackendMsg[]> {
  const { messages, complete } = await sock.until((m) => m.name === 'readyForQuery', ANSWER_WAIT_MS);
  if (!complete) throw new Error(`${what}: no ReadyForQuery (${sock.isOpen ? 'timed out' : 'connection closed'})`);
  const error = messages.find((m) => m.name === 'error');
  if (error) throw new Error(`${what}: ${String(error.code)} ${String(error.message)}`);
  return messages;
}

/** COPY IN of this client's rows (writes split like the fuzz's, which is valid TCP), read back, then COPY OUT. */
async function copyRound(sock: WireSocket, rng: Prng, token: string, check: Check): Promise<void> {
  const send = (b: Buffer) => sock.send(b, drawSplit(rng, b.length, 1));
  await send(serialize.query('COPY fuzz_copy (owner, n) FROM STDIN'));
  const started = await sock.until((m) => m.name === 'copyInResponse' || m.name === 'readyForQuery', ANSWER_WAIT_MS);
  if (started.messages.at(-1)?.name !== 'copyInResponse') {
    const error = started.messages.find((m) => m.name === 'error');
    throw new Error(
      `COPY IN did not start: ${error ? `${String(error.code)} ${String(error.message)}` : started.messages.map((m) => m.name).join(',')}`,
    );
  }
  for (let n = 1; n <= COPY_ROWS; n++) await send(serialize.copyData(Buffer.from(`${token}\t${n}\n`)));
  await send(serialize.copyDone());
  await answer(sock, 'COPY IN');
  await send(
    serialize.query(
      `SELECT count(*)::text, sum(n)::text FROM fuzz_copy WHERE owner = '${token}'; DELETE FROM fuzz_copy WHERE owner = '${token}'`,
    ),
  );
  const rows = (await answer(sock, 'read back')).filter((m) => m.name === 'dataRow').map((m) => m.fields);
  check.equal('COPY IN read back', rows, [[String(COPY_ROWS), String((COPY_ROWS * (COPY_ROWS + 1)) / 2)]]);
  await send(serialize.query(`COPY (SELECT '${token}', n FROM generate_series(1, ${COPY_ROWS}) AS n) TO STDOUT`));
  const out = copyLines(await answer(sock, 'COPY OUT'));
  check.equal(
    'COPY OUT',
    out,
    Array.from({ length: COPY_ROWS }, (_, i) => `${token}\t${i + 1}\n`),
  );
}

export interface GoodClientOptions {
  endpoint: FuzzEndpoint;
  id: number;
  seed: number;
  defaults: Defaults;
  tally: GoodTally;
  running: () => boolean;
  /** Called at each wrong answer, when it is seen. */
  onWrong: (what: string) => void;
}

function noteError(tally: GoodTally, who: string, err: unknown): void {
  tally.errors++;
  const code = (err as { code?: string }).code;
  if (tally.errorSamples.length < SAMPLES) tally.errorSamples.push(`${who}: ${code ? `${code} ` : ''}${(err as Error).message}`);
}

/** Loops until `running()` turns false; reconnects after an error, so one lost connection does not end it. */
export async function runGoodClient(o: GoodClientOptions): Promise<void> {
  const app = `good_${o.id}`;
  const rng = new Prng(o.seed, 2_000_000 + o.id);
  const check = new Check(o.tally, app, o.onWrong);
  for (let round = 0; o.running(); round++) {
    const client = new pg.Client({
      ...o.endpoint.shared,
      host: o.endpoint.host,
      port: o.endpoint.port,
      application_name: app,
      query_timeout: ANSWER_WAIT_MS,
      connectionTimeoutMillis: ANSWER_WAIT_MS,
    });
    client.on('error', () => undefined); // The awaited query reports it.
    let sock: WireSocket | null = null;
    try {
      await client.connect();
      sock = await WireSocket.connect(o.endpoint.host, o.endpoint.port);
      if ((await login(sock, { ...o.endpoint.shared, applicationName: app }, rng)) !== 'ready') throw new Error('raw login failed');
      for (; o.running(); round++) {
        const token = `tok:good${o.id}:${round}`;
        await pgRound(client, token, app, o.defaults, check);
        await copyRound(sock, rng, token, check);
      }
    } catch (err) {
      noteError(o.tally, app, err);
    } finally {
      sock?.destroy();
      await client.end().catch(() => undefined);
    }
  }
}
