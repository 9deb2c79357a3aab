// Session state pinned (session_state: pin) must not reach the next client when the statement after it was a COPY FROM STDIN that failed (found by the protocol fuzzer).
import t, { type Test } from 'tap';
import pg from 'pg';
import { serialize } from '../../lib/protocol/pg-protocol.js';
import { startTestPostgres } from '../helpers/postgres.js';
import { startSluice } from '../helpers/sluice.js';
import { WireSocket } from '../../bench/fuzz/wire-socket.js';
import { login } from '../../bench/fuzz/wire-login.js';

const WAIT_MS = 10_000;
const realPg = await startTestPostgres(t);
await realPg.query('CREATE TABLE IF NOT EXISTS copy_target (owner text NOT NULL, n int NOT NULL)');
await realPg.query('GRANT ALL ON copy_target TO alice');
// One server connection: the next client gets the one the first client used, once Sluice lets it go.
const sluice = await startSluice(t, realPg, { default_pool_size: 1, session_state: 'pin' });

const SET = serialize.query("SET work_mem = '7MB'");
const COPY = serialize.query('COPY copy_target (owner, n) FROM STDIN');

async function session(): Promise<WireSocket> {
  const sock = await WireSocket.connect('127.0.0.1', sluice.port);
  t.teardown(() => sock.destroy());
  const cred = { user: 'alice', password: 'alice-secret', database: 'app', applicationName: 'pinned' };
  if ((await login(sock, cred, null)) !== 'ready') throw new Error('login failed');
  return sock;
}

async function reply(sock: WireSocket, name: string): Promise<string[]> {
  const { messages, complete } = await sock.until((m) => m.name === name, WAIT_MS);
  if (!complete) throw new Error(`no ${name}; got ${messages.map((m) => m.name).join(',')}`);
  return messages.map((m) => m.name);
}

/** SET, then a COPY whose first row is bad; the server answers the COPY with an error. */
async function setThenFailingCopy(t: Test, sock: WireSocket, pipelined: boolean): Promise<void> {
  if (pipelined) await sock.send(Buffer.concat([SET, COPY]));
  else {
    await sock.send(SET);
    await reply(sock, 'readyForQuery');
    await sock.send(COPY);
  }
  await reply(sock, 'copyInResponse');
  await sock.send(serialize.copyData(Buffer.from('x\tnot-a-number\n')));
  t.same((await reply(sock, 'readyForQuery')).slice(-2), ['error', 'readyForQuery'], 'the COPY fails on its bad row');
}

async function nextClientsWorkMem(): Promise<string> {
  const c = new pg.Client({ ...sluice.options('alice'), query_timeout: WAIT_MS });
  await c.connect();
  try {
    return (await c.query("SELECT current_setting('work_mem') AS wm")).rows[0].wm;
  } finally {
    await c.end();
  }
}

for (const pipelined of [false, true]) {
  t.test(`SET ${pipelined ? 'in one write with' : 'answered before'} a COPY that fails, then Terminate`, async (t) => {
    const sock = await session();
    await setThenFailingCopy(t, sock, pipelined);
    await sock.send(serialize.end());
    t.equal(await nextClientsWorkMem(), '4MB', "the next client of the pool has the server's default work_mem");
  });
}
