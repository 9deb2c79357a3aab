// Tests TransactionShape: the class from the rules, the learned long lane as the last rule, and one hold-time report per transaction.
import t from 'tap';
import { parseConfig } from '../../../../lib/config/schema.js';
import type { IsolationConfig } from '../../../../lib/config/types.js';
import { LaneLearner, type Fingerprinter } from '../../../../lib/session/classify/lane-learner.js';
import { TransactionShape } from '../../../../lib/session/classify/transaction-shape.js';
import { cstr, message } from '../../../helpers/bytes.js';

function isolation(scheduler: Record<string, unknown> = {}, classes: Record<string, unknown> = {}): IsolationConfig {
  return parseConfig({ auth_type: 'trust', databases: { app: { host: '127.0.0.1' } }, scheduler, classes }, { baseDir: '/' }).scheduler;
}

/** A learner that fingerprints at once (no deferral), by the text with digits folded. */
function learner(): { lanes: LaneLearner; flush: () => Promise<void> } {
  const deferred: Array<() => void> = [];
  const fingerprinter: Fingerprinter = { load: async () => undefined, fingerprint: (sql) => sql.replace(/\d+/g, 'N') };
  const lanes = new LaneLearner({ fingerprinter, defer: (fn) => deferred.push(fn) });
  const flush = async (): Promise<void> => {
    while (deferred.length) deferred.shift()!();
    await new Promise((r) => setImmediate(r));
  };
  return { lanes, flush };
}

const query = (sql: string): Buffer => message('Q', cstr(sql));

function decide(shape: TransactionShape, iso: IsolationConfig, lanes: LaneLearner, sql: string, ruleClass: string | null = null): string {
  const b = query(sql);
  shape.decide(iso, ruleClass, lanes, b[0], b, 0, b.length);
  return shape.cls;
}

t.test('rules decide first; the learned lane is off without long_threshold', async (t) => {
  const { lanes } = learner();
  const shape = new TransactionShape();
  const off = isolation({ long_threshold: 0, adaptive_limit: false });
  t.equal(decide(shape, off, lanes, 'SELECT 1'), 'default');
  shape.observe(lanes, 5000);
  t.equal(lanes.size.pending, 0, 'nothing is learned with long_threshold 0');
  t.equal(
    decide(shape, isolation({ long_threshold: 0 }, { migration: {} }), lanes, 'CREATE TABLE x (a int)'),
    'migration',
    'statement kind',
  );
  t.equal(decide(shape, off, lanes, 'SELECT 1', 'batch'), 'batch', 'a session rule class');
  t.equal(shape.measureLatency, false);
  decide(shape, isolation({ adaptive_limit: true }), lanes, 'SELECT 1');
  t.equal(shape.measureLatency, true, 'latency is sampled when the adaptive limit is on');
});

t.test('a statement learned to hold its slot long moves to the long class, and back when it gets fast', async (t) => {
  const { lanes, flush } = learner();
  const iso = isolation({ long_threshold: 0.05 });
  const shape = new TransactionShape();
  t.equal(decide(shape, iso, lanes, 'SELECT pg_sleep(1)'), 'default', 'unknown yet');
  shape.observe(lanes, 1000);
  await flush();
  t.equal(decide(shape, iso, lanes, 'SELECT pg_sleep(2)'), 'long', 'same shape, other literal');
  for (let i = 0; i < 40; i++) {
    decide(shape, iso, lanes, 'SELECT pg_sleep(2)');
    shape.observe(lanes, 1);
  }
  t.equal(decide(shape, iso, lanes, 'SELECT pg_sleep(2)'), 'default');
});

t.test('observe reports once per transaction, and never for classified or transaction-control work', async (t) => {
  const { lanes, flush } = learner();
  const iso = isolation({ long_threshold: 0.05 });
  const shape = new TransactionShape();
  decide(shape, iso, lanes, 'SELECT 42');
  shape.observe(lanes, 500);
  shape.observe(lanes, 500);
  await flush();
  t.equal(lanes.size.shapes, 1);
  decide(shape, iso, lanes, 'BEGIN');
  shape.observe(lanes, 500);
  decide(shape, isolation({ long_threshold: 0.05 }, { migration: {} }), lanes, 'CREATE TABLE y (a int)');
  shape.observe(lanes, 500);
  await flush();
  t.equal(lanes.size.shapes, 1, 'BEGIN and DDL were not learned');
});

t.test('an elastic transaction carries its statement shape for its first latency sample only', async (t) => {
  const { lanes } = learner();
  const iso = isolation({ adaptive_limit: true }, { analytics: { elastic: true }, reports: {} });
  const shape = new TransactionShape();
  decide(shape, iso, lanes, "/* sluice:class=analytics */ SELECT sum(x) FROM t WHERE day = '2024-01-02' AND n > 5");
  t.equal(shape.takeElasticShape(), '/* sluice:class=analytics */ SELECT sum(x) FROM t WHERE day = ? AND n > ?', 'literals masked');
  t.equal(shape.takeElasticShape(), null, 'later requests of the transaction are other statements');
  decide(shape, iso, lanes, '/* sluice:class=reports */ SELECT 1');
  t.equal(shape.takeElasticShape(), null, 'not elastic');
  const bind = message('B', Buffer.concat([cstr(''), cstr('s1'), Buffer.alloc(6)]));
  shape.decide(iso, 'analytics', lanes, bind[0]!, bind, 0, bind.length);
  t.equal(shape.takeElasticShape(), 'statement s1', 'a prepared statement is known by its name');
  const exec = message('E', Buffer.concat([cstr(''), Buffer.alloc(4)]));
  shape.decide(iso, 'analytics', lanes, exec[0]!, exec, 0, exec.length);
  t.equal(shape.takeElasticShape(), 'class analytics', 'else by its class');
  decide(shape, isolation({ adaptive_limit: false }, { analytics: { elastic: true } }), lanes, '/* sluice:class=analytics */ SELECT 1');
  t.equal(shape.takeElasticShape(), null, 'nothing to sample without the adaptive limit');
});

t.test('under the defaults alone, a statement that holds its slot over 0.25 s goes to an elastic long class and is sampled', async (t) => {
  const { lanes, flush } = learner();
  const iso = isolation();
  const shape = new TransactionShape();
  const hog = 'SELECT count(*) FROM generate_series(1, 1000000)';
  t.equal(decide(shape, iso, lanes, hog), 'default', 'unknown yet');
  shape.observe(lanes, 200);
  await flush();
  t.equal(decide(shape, iso, lanes, hog), 'default', '0.2 s is not long enough');
  shape.observe(lanes, 1200);
  t.equal(
    decide(shape, iso, lanes, hog),
    'long',
    'learned as long with no class rule once contended holds push the average past 0.25 s (a hold counts for at most 4× the average)',
  );
  t.equal(iso.classes.get('long')?.elastic, true, 'and the learned class is elastic');
  t.equal(shape.measureLatency, true, 'the adaptive limit samples its latency');
  t.equal(shape.takeElasticShape(), 'SELECT count(*) FROM generate_series(?, ?)', 'by its statement shape');
  t.same(
    lanes.longShapes(),
    [{ shape: 'SELECT count(*) FROM generate_series(?, ?)', avgMs: 200 + 0.3 * (800 - 200) }],
    'listed as learned long',
  );
  t.equal(decide(shape, iso, lanes, 'SELECT 1'), 'default', 'quick statements are not');
});
