// Checks the one range-merging helper: ranges that continue each other stay one run, adjacent pieces of one chunk join into one view, and anything else stays separate.
import t from 'tap';
import { appendPart, ByteRun, cut } from '../../../lib/protocol/byte-runs.js';

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

t.test('a ByteRun grows over ranges that continue it and hands back the run a new range replaces', async (t) => {
  const chunk = Buffer.from('QQQQPPPPBBBB');
  const other = Buffer.from('xxyy');
  const run = new ByteRun();
  t.ok(run.empty);
  t.equal(run.add(chunk, 0, 4), null, 'the first range starts the run');
  t.equal(run.add(chunk, 4, 8), null, 'a continuing range only moves the end');
  t.equal(run.add(chunk, 8, 12), null);
  const whole = run.add(other, 2, 4);
  t.equal(whole, chunk, 'a run over the whole buffer is the buffer itself, not a view');
  t.equal(run.add(chunk, 0, 2)?.toString(), 'yy', 'another buffer (or a gap) starts a new run');
  const taken = run.take();
  t.equal(taken?.toString(), 'QQ');
  t.equal(taken?.buffer, chunk.buffer, 'a view, not a copy');
  t.ok(run.empty);
  t.equal(run.take(), null);
  run.add(chunk, 0, 4);
  run.clear();
  t.equal(run.take(), null, 'cleared: nothing to hand back');
  t.equal(cut(chunk, 0, chunk.length), chunk);
  t.equal(cut(chunk, 4, 8).toString(), 'PPPP');
});
