// Checks a batch of one piece is one plain write (no cork), several small ones are copied into one plain write in order,
// more than the copy limit are one corked write in order, and other targets are not held up.
import t from 'tap';
import { BatchWrite } from '../../../../lib/session/relay/batch-write.js';

/** Records what arrives and how many syscall-sized writes left: each uncorked write, or one per uncork of a non-empty batch. */
class FakeTarget {
  received = '';
  flushes = 0;
  corks = 0;
  private depth = 0;
  private batched = 0;
  write(b: Buffer): boolean {
    this.received += b.toString();
    if (this.depth > 0) this.batched++;
    else this.flushes++;
    return true;
  }
  cork(): void {
    this.corks++;
    this.depth++;
  }
  uncork(): void {
    if (--this.depth === 0 && this.batched > 0) {
      this.flushes++;
      this.batched = 0;
    }
  }
}

t.test('one piece: written at end, plainly', async (t) => {
  const to = new FakeTarget();
  const b = new BatchWrite();
  b.begin(to);
  b.write(to, Buffer.from('PBDES'));
  t.equal(to.received, '', 'held until the batch ends');
  b.end();
  t.equal(to.received, 'PBDES');
  t.same([to.flushes, to.corks], [1, 0]);
});

/** One batch of whole pieces: what arrived, and how many writes and corks it took. */
function batchOf(pieces: Buffer[]): { received: string; writes: [number, number] } {
  const to = new FakeTarget();
  const b = new BatchWrite();
  b.begin(to);
  for (const p of pieces) b.write(to, p);
  b.end();
  return { received: to.received, writes: [to.flushes, to.corks] };
}

t.test('several small pieces: copied into one plain write, in order', async (t) => {
  t.same(batchOf(['a', 'b', 'c'].map((x) => Buffer.from(x))), { received: 'abc', writes: [1, 0] });
});

t.test('several pieces past the copy limit: one corked write, in order', async (t) => {
  const big = Buffer.alloc(3000, 'x');
  const pieces = [Buffer.from('a'), big, Buffer.from('b'), big, Buffer.from('c')];
  t.same(batchOf(pieces), { received: `a${big}b${big}c`, writes: [1, 1] });
});

t.test('a small piece, then a range that grows past the copy limit: one corked write, in order, not a copy', async (t) => {
  const to = new FakeTarget();
  const b = new BatchWrite();
  const chunk = Buffer.alloc(8000, 'y');
  b.begin(to);
  b.write(to, Buffer.from('a'));
  for (let at = 0; at < chunk.length; at += 1000) b.write(to, chunk, at, at + 1000);
  b.end();
  t.equal(to.received, `a${chunk}`);
  t.same([to.flushes, to.corks], [1, 1]);
});

t.test('outside a batch, or to another target, writes go straight out; an empty batch writes nothing', async (t) => {
  const to = new FakeTarget();
  const other = new FakeTarget();
  const b = new BatchWrite();
  b.write(to, Buffer.from('x'));
  t.equal(to.received, 'x');
  b.begin(to);
  b.write(other, Buffer.from('y'));
  t.equal(other.received, 'y');
  b.end();
  t.same([to.flushes, to.corks, to.received], [1, 0, 'x']);
  b.end();
  t.equal(to.flushes, 1, 'a second end does nothing');
});

t.test('contiguous ranges of one buffer merge into one plain write of the buffer; a gap or another buffer is copied', async (t) => {
  const chunk = Buffer.from('PPPPBBBBEEEESSSS');
  const to = new FakeTarget();
  const b = new BatchWrite();
  b.begin(to);
  for (let at = 0; at < chunk.length; at += 4) b.write(to, chunk, at, at + 4);
  b.end();
  t.equal(to.received, 'PPPPBBBBEEEESSSS');
  t.same([to.flushes, to.corks], [1, 0], 'one write, no cork');

  const gap = new FakeTarget();
  b.begin(gap);
  b.write(gap, chunk, 0, 4);
  b.write(gap, chunk, 8, 12);
  b.write(gap, Buffer.from('!'));
  t.equal(gap.received, '', 'the pieces are held');
  b.flush();
  t.equal(gap.received, 'PPPPEEEE!', 'flush writes them, in one write, while the batch stays open');
  b.end();
  t.equal(gap.received, 'PPPPEEEE!');
  t.same([gap.flushes, gap.corks], [1, 0], 'still one syscall');
});
