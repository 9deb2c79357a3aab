// Owns the malformed frames a hostile client sends: unknown types, wrong lengths, truncation and garbage.
import { serialize } from '../../lib/protocol/pg-protocol.js';
import type { Prng } from './prng.js';

export const MUTATIONS = [
  'unknown-type',
  'length-short',
  'length-long',
  'length-huge',
  'length-negative',
  'truncated',
  'garbage',
  'stray-copy',
  'stray-sync',
  'bad-bind',
] as const;
export type Mutation = (typeof MUTATIONS)[number];

/** Frontend type bytes Postgres does not define (nor Sluice). */
const UNKNOWN_TYPES = [0x00, 0x01, 0x41, 0x4a, 0x5a, 0x7a, 0xff];

function withLength(frame: Buffer, length: number): Buffer {
  const out = Buffer.from(frame);
  out.writeInt32BE(length | 0, 1);
  return out;
}

/** A valid frame to start from: a query, a Parse, a Bind or a CopyData. */
function baseFrame(rng: Prng, token: string): Buffer {
  switch (rng.int(4)) {
    case 0:
      return serialize.query(`SELECT '${token}' AS t`);
    case 1:
      return serialize.parse({ name: '', text: `SELECT '${token}'::text`, types: [] });
    case 2:
      return serialize.bind({ portal: '', statement: '', values: [token] });
    default:
      return serialize.copyData(Buffer.from(`${token}\t1\n`));
  }
}

/**
 * The bytes of one mutated message (three for bad-bind). `terminal` says whether the stream is past repair after it (the
 * framing can no longer be followed), so the session should end there.
 */
export function mutate(rng: Prng, kind: Mutation, token: string): { bytes: Buffer; terminal: boolean; messages: number } {
  const m = mutatedBytes(rng, kind, token);
  return { ...m, messages: kind === 'bad-bind' ? 3 : 1 };
}

function mutatedBytes(rng: Prng, kind: Mutation, token: string): { bytes: Buffer; terminal: boolean } {
  const frame = baseFrame(rng, token);
  const len = frame.length - 1;
  switch (kind) {
    case 'unknown-type': {
      const out = Buffer.from(frame);
      out[0] = rng.pick(UNKNOWN_TYPES);
      return { bytes: out, terminal: false };
    }
    case 'length-short':
      return { bytes: withLength(frame, rng.between(4, Math.max(4, len - 1))), terminal: true };
    case 'length-long':
      return { bytes: withLength(frame, len + rng.between(1, 64)), terminal: true };
    case 'length-huge':
      return { bytes: withLength(frame, rng.pick([0x7fffffff, 0x40000000, 1 << 28])), terminal: true };
    case 'length-negative':
      return { bytes: withLength(frame, rng.pick([-1, -5, 0, 3])), terminal: true };
    case 'truncated':
      return { bytes: frame.subarray(0, rng.between(1, frame.length - 1)), terminal: true };
    case 'garbage':
      return { bytes: rng.bytes(rng.between(1, 64)), terminal: true };
    case 'stray-copy':
      return { bytes: rng.chance(0.5) ? serialize.copyData(Buffer.from(`${token}\t2\n`)) : serialize.copyDone(), terminal: false };
    case 'stray-sync':
      return { bytes: rng.chance(0.5) ? serialize.sync() : serialize.flush(), terminal: false };
    case 'bad-bind':
      return {
        bytes: Buffer.concat([
          serialize.bind({ statement: `fz_missing_${rng.int(3)}`, values: [] }),
          serialize.execute({}),
          serialize.sync(),
        ]),
        terminal: false,
      };
  }
}
