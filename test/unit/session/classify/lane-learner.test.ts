// Tests for the learned long lane: shape keys, deferred fingerprints, averages, bounds, and libpg-query itself.
import t from 'tap';
import { LaneLearner, type Fingerprinter } from '../../../../lib/session/classify/lane-learner.js';

function setup(opts: { maxShapes?: number; maxFingerprints?: number; maxPending?: number; fp?: (sql: string) => string } = {}) {
  const deferred: Array<() => void> = [];
  const calls: string[] = [];
  const fingerprinter: Fingerprinter = {
    load: async () => undefined,
    fingerprint: (sql) => {
      calls.push(sql);
      return (opts.fp ?? ((s) => s.replace(/\d+/g, 'N').toLowerCase()))(sql);
    },
  };
  const learner = new LaneLearner({ ...opts, fingerprinter, defer: (fn) => deferred.push(fn) });
  const flush = async (): Promise<void> => {
    while (deferred.length) deferred.shift()!();
    await new Promise((r) => setImmediate(r));
  };
  return { learner, flush, calls, deferred };
}

t.test('keys normalize literals and skip transaction control', async (t) => {
  t.equal(LaneLearner.keyOf("SELECT * FROM t WHERE a = 42 AND b = 'x''y'"), 'SELECT * FROM t WHERE a = ? AND b = ?');
  t.equal(LaneLearner.keyOf('SELECT pg_sleep(0.05)'), LaneLearner.keyOf('SELECT pg_sleep(1)'));
  t.equal(LaneLearner.keyOf('SELECT $1::int'), 'SELECT ?::int');
  for (const tx of ['BEGIN', '  begin isolation level serializable', 'START TRANSACTION', 'COMMIT', 'rollback']) {
    t.equal(LaneLearner.keyOf(tx), null, tx);
  }
  t.equal(LaneLearner.keyOf('x'.repeat(5000))!.length, 2048, 'long text keyed by a bounded prefix');
});

t.test('fingerprints are computed later, in a batch, once per shape; then averages decide', async (t) => {
  const { learner, flush, calls, deferred } = setup();
  const key = LaneLearner.keyOf('SELECT pg_sleep(0.2)')!;
  learner.observe(key, 'SELECT pg_sleep(0.2)', 200);
  learner.observe(key, 'SELECT pg_sleep(0.3)', 300);
  t.equal(calls.length, 0, 'nothing parsed on the relay path');
  t.equal(deferred.length, 1, 'one deferred batch');
  t.notOk(learner.isLong(key, 50), 'unknown until fingerprinted');
  await flush();
  t.equal(calls.length, 1, 'one parse per shape');
  t.notOk(learner.isLong(key, 500), 'the threshold decides');
  t.ok(learner.isLong(key, 50));
  t.ok(learner.averageMs(key)! > 200 && learner.averageMs(key)! < 300);
  for (let i = 0; i < 30; i++) learner.observe(key, 'SELECT pg_sleep(0.2)', 1);
  t.equal(calls.length, 1, 'known shapes update the average without parsing');
  t.equal(deferred.length, 0);
  t.notOk(learner.isLong(key, 50), 'a statement that became fast leaves the long lane');
});

t.test('different texts with one fingerprint share one average', async (t) => {
  const { learner, flush } = setup({ fp: () => 'same' });
  learner.observe('a', 'SELECT 1', 100);
  learner.observe('b', 'select 1', 100);
  await flush();
  t.equal(learner.size.fingerprints, 1);
  t.equal(learner.size.shapes, 2);
  t.ok(learner.isLong('b', 50));
});

t.test('memory stays bounded: LRU shapes and fingerprints, capped pending samples', async (t) => {
  const { learner, flush } = setup({ maxShapes: 10, maxFingerprints: 5, maxPending: 20, fp: (s) => s });
  for (let i = 0; i < 50; i++) learner.observe(`k${i}`, `SELECT ${i} FROM t${i}`, 100);
  t.equal(learner.size.pending, 20, 'samples beyond the cap are dropped');
  await flush();
  t.equal(learner.size.shapes, 10);
  t.equal(learner.size.fingerprints, 5);
  t.equal(learner.size.pending, 0);
});

t.test('unparseable text and a parser that fails to load fall back to the shape itself', async (t) => {
  const { learner, flush } = setup({
    fp: () => {
      throw new Error('syntax error');
    },
  });
  learner.observe('bad', 'SELEC 1', 80);
  await flush();
  t.ok(learner.isLong('bad', 50));
  const deferred: Array<() => void> = [];
  const broken = new LaneLearner({
    fingerprinter: { load: () => Promise.reject(new Error('no wasm')), fingerprint: () => 'never' },
    defer: (fn) => deferred.push(fn),
  });
  broken.observe('k', 'SELECT 1', 90);
  deferred.shift()!();
  await new Promise((r) => setImmediate(r));
  t.ok(broken.isLong('k', 50), 'learning goes on without the parser');
});

t.test('the default fingerprinter is libpg-query: literals do not matter, structure does', async (t) => {
  const learner = new LaneLearner();
  learner.observe('k1', 'SELECT abalance FROM pgbench_accounts WHERE aid = 7', 100);
  learner.observe('k2', 'select abalance from pgbench_accounts where aid = 99', 300);
  learner.observe('k3', 'SELECT bbalance FROM pgbench_branches WHERE bid = 1', 1);
  for (let i = 0; i < 100 && learner.size.pending + (learner.size.shapes < 3 ? 1 : 0) > 0; i++) {
    await new Promise((r) => setTimeout(r, 10));
  }
  t.equal(learner.size.shapes, 3);
  t.equal(learner.size.fingerprints, 2, 'the first two are one statement to libpg-query');
  t.equal(learner.averageMs('k1'), learner.averageMs('k2'));
  t.ok(learner.isLong('k1', 50));
  t.notOk(learner.isLong('k3', 50));
});

t.test('once long, a shape stays long until its average falls below a quarter of the threshold; longShapes lists it', async (t) => {
  const { learner, flush } = setup();
  const key = LaneLearner.keyOf('SELECT count(*) FROM generate_series(1, 1000000)')!;
  learner.observe(key, 'SELECT count(*) FROM generate_series(1, 1000000)', 90);
  await flush();
  t.notOk(learner.isLong(key, 100), '90 ms is under a 100 ms threshold');
  t.same(learner.longShapes(), [], 'nothing learned long yet');
  for (let i = 0; i < 10; i++) learner.observe(key, '', 400);
  t.ok(learner.isLong(key, 100), 'contended holds of 400 ms make it long');
  t.same(
    learner.longShapes().map((s) => s.shape),
    ['SELECT count(*) FROM generate_series(?, ?)'],
  );
  t.equal(learner.longCount, 1);
  // In the long lane it runs with less contention: 70 ms holds, under the threshold but over a quarter of it.
  for (let i = 0; i < 30; i++) learner.observe(key, '', 70);
  t.ok(learner.isLong(key, 100), 'a shape in the long lane stays there above a quarter of the threshold');
  for (let i = 0; i < 30; i++) learner.observe(key, '', 20);
  t.notOk(learner.isLong(key, 100), 'and leaves below a quarter of it');
  t.equal(learner.longCount, 0);
  for (let i = 0; i < 30; i++) learner.observe(key, '', 70);
  t.notOk(learner.isLong(key, 100), 'out of the lane, 70 ms is not enough to come back');
});

t.test('one stalled hold does not make a quick statement long; holds that stay long do', async (t) => {
  const { learner, flush } = setup();
  const key = LaneLearner.keyOf('SELECT pg_sleep(0.01)')!;
  learner.observe(key, 'SELECT pg_sleep(0.01)', 10);
  await flush();
  for (let i = 0; i < 20; i++) learner.observe(key, '', 10);
  learner.observe(key, '', 2000);
  t.ok(learner.averageMs(key)! < 20, `a 2 s stall moves a 10 ms average little (${learner.averageMs(key)?.toFixed(1)} ms)`);
  t.notOk(learner.isLong(key, 250));
  for (let i = 0; i < 10; i++) learner.observe(key, '', 2000);
  t.ok(learner.isLong(key, 250), `ten 2 s holds in a row do (${learner.averageMs(key)?.toFixed(0)} ms)`);
});
