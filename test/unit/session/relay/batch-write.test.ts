// Checks a batch of one piece is one plain write (no cork), several are one corked write in order, and other targets are not held up.
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

t.test('several pieces: one corked write, in order', async (t) => {
  const to = new FakeTarget();
  const b = new BatchWrite();
  b.begin(to);
  b.write(to, Buffer.from('a'));
  b.write(to, Buffer.from('b'));
  b.write(to, Buffer.from('c'));
  b.end();
  t.equal(to.received, 'abc');
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

t.test('contiguous ranges of one buffer merge into one plain write of the buffer; a gap or another buffer corks', async (t) => {
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
  t.equal(gap.received, 'PPPPEEEE', 'the last piece is held');
  b.flush();
  t.equal(gap.received, 'PPPPEEEE!', 'flush writes it while the batch stays open');
  b.end();
  t.equal(gap.received, 'PPPPEEEE!');
  t.same([gap.flushes, gap.corks], [1, 1], 'still one syscall');
});
