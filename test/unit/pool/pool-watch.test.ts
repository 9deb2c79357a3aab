// PoolWatch: waits finish when their condition holds on a poke, at once if it already holds, and can be dropped.
import t from 'tap';
import { PoolWatch } from '../../../lib/pool/pool-watch.js';

t.test('a wait finishes on the first poke where its condition holds', async (t) => {
  const w = new PoolWatch();
  let ready = false;
  let done = 0;
  w.when(
    () => ready,
    () => done++,
  );
  t.ok(w.active);
  w.poke();
  t.equal(done, 0);
  ready = true;
  w.poke();
  w.poke();
  t.equal(done, 1, 'exactly once');
  t.notOk(w.active);
});

t.test('a condition that already holds finishes at once; a dropped wait never does', async (t) => {
  const w = new PoolWatch();
  let done = 0;
  w.when(
    () => true,
    () => done++,
  );
  t.equal(done, 1);
  const cancel = w.when(
    () => done > 5,
    () => done++,
  );
  cancel();
  done = 10;
  w.poke();
  t.equal(done, 10);
  w.when(
    () => false,
    () => done++,
  );
  w.clear();
  t.notOk(w.active);
});
