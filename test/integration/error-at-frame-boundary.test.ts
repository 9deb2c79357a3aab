// A client that breaks the protocol while a COPY OUT streams to it gets Sluice's ErrorResponse after a whole message, never inside one (found by the protocol fuzzer).
import t from 'tap';
import { serialize } from '../../lib/protocol/pg-protocol.js';
import { startTestPostgres } from '../helpers/postgres.js';
import { startSluice } from '../helpers/sluice.js';
import { login } from '../../bench/fuzz/wire-login.js';
import { WireSocket } from '../../bench/fuzz/wire-socket.js';

const realPg = await startTestPostgres(t);
const sluice = await startSluice(t, realPg, { default_pool_size: 1 });

/** Backend message types a client may see during a COPY OUT and its end. */
const EXPECTED_TYPES = new Set(['H', 'd', 'c', 'C', 'Z', 'E', 'N', 'S']);

/** Splits a byte stream into messages; says where the framing went wrong, if it did. */
function frames(bytes: Buffer): { types: string[]; problem: string | null } {
  const types: string[] = [];
  let at = 0;
  while (at < bytes.length) {
    if (at + 5 > bytes.length) return { types, problem: `${bytes.length - at} bytes left over after ${types.length} messages` };
    const type = String.fromCharCode(bytes[at]);
    const len = bytes.readInt32BE(at + 1);
    if (!EXPECTED_TYPES.has(type) || len < 4)
      return { types, problem: `message ${types.length}: type 0x${bytes[at].toString(16)}, length ${len}` };
    types.push(type);
    at += 1 + len;
  }
  return { types, problem: at === bytes.length ? null : `the last message runs past the end by ${at - bytes.length} bytes` };
}

t.test('an unknown message type sent during a COPY OUT', async (t) => {
  const sock = await WireSocket.connect('127.0.0.1', sluice.port);
  t.teardown(() => sock.destroy());
  t.equal(await login(sock, { user: 'alice', password: 'alice-secret', database: 'app', applicationName: 'x' }, null), 'ready', 'logs in');
  const received: Buffer[] = [];
  // A copy: the fuzzer's parser may later reuse a chunk's memory for its own buffer.
  sock.socket.on('data', (chunk: Buffer) => received.push(Buffer.from(chunk)));
  await sock.send(serialize.query("COPY (SELECT n, repeat('x', 20) FROM generate_series(1, 300000) AS n) TO STDOUT"));
  await sock.until((m) => m.name === 'copyData', 10_000);
  const bad = Buffer.from(serialize.query('SELECT 1'));
  bad[0] = 0x01; // No such frontend message.
  await sock.send(bad);
  await sock.closed;
  const { types, problem } = frames(Buffer.concat(received));
  t.equal(problem, null, `every byte Sluice sent belongs to a whole message (${problem ?? 'it does'})`);
  t.equal(types.at(-1), 'E', `the last message is the ErrorResponse (${types.slice(-3).join(',')})`);
});
