// Checks adjacent pieces of one chunk join into one view, and anything else stays a separate part.
import t from 'tap';
import { appendPart } from '../../../lib/protocol/byte-runs.js';

t.test('pieces that continue each other in one chunk become one part, without a copy', async (t) => {
  const chunk = Buffer.from('PPPPBBBBEEEESSSS');
  const parts: Buffer[] = [];
  for (let i = 0; i < 16; i += 4) appendPart(parts, chunk.subarray(i, i + 4));
  t.equal(parts.length, 1);
  t.ok(parts[0]!.equals(chunk));
  chunk[0] = 0x58;
  t.equal(parts[0]![0], 0x58, 'a view of the chunk, not a copy');
});

t.test('a gap, another buffer, or a piece out of order starts a new part', async (t) => {
  const chunk = Buffer.from('aaaabbbbccccdddd');
  const parts: Buffer[] = [];
  appendPart(parts, chunk.subarray(0, 4));
  appendPart(parts, chunk.subarray(8, 12)); // bbbb was kept back
  appendPart(parts, Buffer.from('XY'));
  appendPart(parts, chunk.subarray(12, 16));
  t.same(
    parts.map((p) => p.toString()),
    ['aaaa', 'cccc', 'XY', 'dddd'],
  );
  const again: Buffer[] = [];
  appendPart(again, chunk.subarray(4, 8));
  appendPart(again, chunk.subarray(0, 4));
  t.same(
    again.map((p) => p.toString()),
    ['bbbb', 'aaaa'],
    'memory before the last part is not joined',
  );
});
