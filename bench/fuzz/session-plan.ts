// Owns what one fuzz session does, drawn from its seed: the login, a run of protocol acts (valid and mutated), and how it ends.
import { serialize } from '../../lib/protocol/pg-protocol.js';
import { LOGIN_FAULTS, type LoginFault } from './wire-login.js';
import { MUTATIONS, mutate } from './mutations.js';
import type { Prng } from './prng.js';
import { drawSplit, type SplitPlan } from './wire-socket.js';

export type AwaitName = 'readyForQuery' | 'copyInResponse' | 'copyData' | 'dataRow';

export type Step =
  | { kind: 'send'; bytes: Buffer; messages: number; split: SplitPlan }
  | { kind: 'await'; until: AwaitName }
  | { kind: 'halfClose' }
  | { kind: 'destroy' }
  /** A CancelRequest on a new connection with this session's key, or with a key one off from it. */
  | { kind: 'cancel'; keyOffset: number };

export interface SessionPlan {
  index: number;
  /** Every DataRow or CopyData this session reads that starts with `tok:` must carry this token. */
  token: string;
  /** Logs in as the good clients' user (same pool) or as the md5 user. */
  as: 'shared' | 'md5';
  applicationName: string;
  loginFault: LoginFault;
  steps: Step[];
}

type Act =
  | 'simple'
  | 'extended'
  | 'copyIn'
  | 'copyOut'
  | 'bigResult'
  | 'transaction'
  | 'setState'
  | 'mutation'
  | 'cancel'
  | 'vanish'
  | 'halfClose';

const ACT_WEIGHTS: Record<Act, number> = {
  simple: 20,
  extended: 18,
  copyIn: 14,
  copyOut: 8,
  bigResult: 6,
  transaction: 8,
  setState: 10,
  mutation: 10,
  cancel: 5,
  vanish: 3,
  halfClose: 3,
};

/** Named statements every session draws from, so Sluice's shared statement cache sees the same names from many clients. */
const STATEMENT_NAMES = ['fz_a', 'fz_b', 'fz_c', ''];

class PlanBuilder {
  readonly steps: Step[] = [];
  constructor(
    private readonly rng: Prng,
    readonly token: string,
    readonly index: number,
  ) {}

  send(bytes: Buffer, messages = 1): void {
    this.steps.push({ kind: 'send', bytes, messages, split: drawSplit(this.rng, bytes.length) });
  }

  await(until: AwaitName, p = 1): void {
    if (this.rng.chance(p)) this.steps.push({ kind: 'await', until });
  }

  cancel(keyOffset: number): void {
    this.steps.push({ kind: 'cancel', keyOffset });
  }

  end(kind: 'halfClose' | 'destroy'): void {
    this.steps.push({ kind });
  }

  /** The last step closed the socket (half or whole): nothing more can follow. */
  get ended(): boolean {
    const last = this.steps.at(-1)?.kind;
    return last === 'halfClose' || last === 'destroy';
  }
}

function simple(b: PlanBuilder, rng: Prng): void {
  const sql = rng.pick([
    `SELECT '${b.token}' AS t`,
    `SELECT '${b.token}' AS t, pg_sleep(0.002)`,
    `SELECT '${b.token}' AS t; SELECT 1/0; SELECT '${b.token}'`,
    `SELECT * FROM fuzz_missing_table`,
    `SELECT '${b.token}' AS t, n FROM generate_series(1, 50) AS n`,
    ``,
  ]);
  b.send(serialize.query(sql));
  b.await('readyForQuery', 0.7);
}

function extended(b: PlanBuilder, rng: Prng): void {
  const name = rng.pick(STATEMENT_NAMES);
  const text = rng.chance(0.2) ? 'SELECT $1::int / 0' : `SELECT $1::text AS t, '${rng.pick(['a', 'b'])}' AS k`;
  const frames = [serialize.parse({ name, text, types: [] })];
  const runs = rng.between(1, 3);
  for (let i = 0; i < runs; i++)
    frames.push(
      serialize.bind({ statement: name, values: [text.includes('int') ? '7' : b.token] }),
      serialize.describe({ type: 'P', name: '' }),
      serialize.execute({}),
    );
  if (name && rng.chance(0.3)) frames.push(serialize.close({ type: 'S', name }));
  const sync = rng.chance(0.85);
  frames.push(sync ? serialize.sync() : serialize.flush());
  if (rng.chance(0.5)) b.send(Buffer.concat(frames), frames.length);
  else for (const f of frames) b.send(f);
  if (sync) b.await('readyForQuery', 0.6);
}

/** Characters for COPY rows: multi-byte UTF-8 puts bytes >= 0x80 mid-message, where a misread length turns negative. */
const FILLER = ['a', 'z', ' ', 'é', 'ÿ', '€', '😀', '∑'];

function copyRow(b: PlanBuilder, rng: Prng, n: number): Buffer {
  const filler = Array.from({ length: rng.int(40) }, () => rng.pick(FILLER)).join('');
  return serialize.copyData(Buffer.from(`${b.token} ${filler}\t${n}\n`));
}

/** COPY FROM STDIN streamed one CopyData per write (each split), often with a bad row early so the server gives up mid-stream. */
function copyIn(b: PlanBuilder, rng: Prng): void {
  b.send(serialize.query('COPY fuzz_copy (owner, n) FROM STDIN'));
  b.await('copyInResponse', 0.5);
  const rows = rng.between(3, 40);
  const badAt = rng.chance(0.5) ? rng.int(3) : -1;
  for (let i = 0; i < rows; i++) b.send(i === badAt ? serialize.copyData(Buffer.from(`${b.token}\tnot-a-number\n`)) : copyRow(b, rng, i));
  const ending = rng.weighted({ done: 50, fail: 20, vanish: 15, halfClose: 15 });
  if (ending === 'done') b.send(serialize.copyDone());
  else if (ending === 'fail') b.send(serialize.copyFail('fuzz gives up'));
  else return b.end(ending === 'vanish' ? 'destroy' : 'halfClose');
  b.await('readyForQuery', 0.8);
}

/** COPY TO STDOUT, read to the end or left after its first row. */
function copyOut(b: PlanBuilder, rng: Prng): void {
  b.send(serialize.query(`COPY (SELECT '${b.token}', n FROM generate_series(1, ${rng.between(1, 5000)}) AS n) TO STDOUT`));
  if (rng.chance(0.4)) {
    b.await('copyData');
    b.end(rng.chance(0.7) ? 'destroy' : 'halfClose');
  } else b.await('readyForQuery', 0.8);
}

/** A result of many rows, left after the first DataRow (the client vanishes mid-result) or pipelined past. */
function bigResult(b: PlanBuilder, rng: Prng): void {
  b.send(serialize.query(`SELECT '${b.token}' AS t, repeat('x', 200), n FROM generate_series(1, ${rng.between(1000, 20000)}) AS n`));
  if (rng.chance(0.6)) {
    b.await('dataRow');
    b.end(rng.chance(0.7) ? 'destroy' : 'halfClose');
  } else b.await('readyForQuery', 0.5);
}

function transaction(b: PlanBuilder, rng: Prng): void {
  b.send(serialize.query('BEGIN'));
  b.send(
    serialize.query(
      rng.pick([`SELECT '${b.token}'`, `SET LOCAL work_mem = '9MB'`, `INSERT INTO fuzz_copy VALUES ('${b.token}', 1)`, 'SELECT 1/0']),
    ),
  );
  b.await('readyForQuery', 0.5);
  const ending = rng.weighted({ commit: 5, rollback: 2, vanish: 2, open: 3 });
  if (ending === 'vanish') return b.end('destroy');
  if (ending !== 'open') b.send(serialize.query(ending === 'commit' ? 'COMMIT' : 'ROLLBACK'));
  b.await('readyForQuery', 0.5);
}

/** Session settings the good clients must never see: tracked ones Sluice carries, and an untracked one that pins. */
function setState(b: PlanBuilder, rng: Prng): void {
  b.send(
    serialize.query(
      rng.pick([
        `SET application_name = 'fuzz_${b.index}'`,
        `SET search_path = fuzz_${b.index}, public`,
        `SET work_mem = '7MB'`,
        `RESET ALL`,
        `SET application_name = 'fuzz_${b.index}'; SET search_path = pg_catalog`,
      ]),
    ),
  );
  b.await('readyForQuery', 0.6);
}

/** A slow query cancelled with this session's key; sometimes with a wrong key, which must cancel nobody. */
function cancel(b: PlanBuilder, rng: Prng): void {
  b.send(serialize.query(`SELECT '${b.token}' AS t, pg_sleep(${rng.pick(['0.01', '0.05', '0.2'])})`));
  b.cancel(rng.chance(0.7) ? 0 : rng.pick([1, -1, 0x10000]));
  b.await('readyForQuery');
}

function mutation(b: PlanBuilder, rng: Prng): void {
  const m = mutate(rng, rng.pick(MUTATIONS), b.token);
  b.send(m.bytes, m.messages);
  if (m.terminal) b.end(rng.pick(['halfClose', 'destroy'] as const));
  else b.await('readyForQuery', 0.3);
}

const ACTS: Record<Act, (b: PlanBuilder, rng: Prng) => void> = {
  simple,
  extended,
  copyIn,
  copyOut,
  bigResult,
  transaction,
  setState,
  mutation,
  cancel,
  vanish: (b) => b.end('destroy'),
  halfClose: (b) => b.end('halfClose'),
};

export function planSession(rng: Prng, index: number): SessionPlan {
  const token = `tok:${index}`;
  const b = new PlanBuilder(rng, token, index);
  const loginFault = rng.chance(0.1) ? rng.pick(LOGIN_FAULTS) : 'none';
  const acts = rng.between(1, 12);
  for (let i = 0; i < acts && !b.ended; i++) ACTS[rng.weighted(ACT_WEIGHTS)](b, rng);
  if (!b.ended) {
    const ending = rng.weighted({ terminate: 5, destroy: 3, halfClose: 2 });
    if (ending === 'terminate') b.send(serialize.end());
    else b.end(ending);
  }
  return {
    index,
    token,
    as: rng.chance(0.5) ? 'shared' : 'md5',
    applicationName: `fuzz_${index}`,
    loginFault,
    steps: loginFault === 'none' ? b.steps : [],
  };
}
