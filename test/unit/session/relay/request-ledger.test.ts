// Tests RequestLedger: requests owed a ReadyForQuery, unsynced batches, the latency sample, and what a rejection leaves.
import t from 'tap';
import { RequestLedger } from '../../../../lib/session/relay/request-ledger.js';

t.test('a pipeline of requests is quiet only when every ReadyForQuery is back', async (t) => {
  const l = new RequestLedger();
  t.ok(l.quiet);
  t.equal(l.request(), true, 'the first request starts the clocks');
  t.equal(l.request(), false, 'the second does not');
  t.notOk(l.quiet);
  t.equal(l.answered(1, 10), -1, 'one still owed');
  t.notOk(l.quiet);
  t.equal(l.answered(1, 11), -1, 'no clock was started: no sample');
  t.ok(l.quiet);
});

t.test('an unsynced extended batch is owed even with no request in flight', async (t) => {
  const l = new RequestLedger();
  l.open = true;
  t.notOk(l.quiet);
  l.open = false;
  t.ok(l.quiet);
});

t.test('the latency sample runs from the clock start to the last ReadyForQuery, once', async (t) => {
  const l = new RequestLedger();
  l.request();
  l.request();
  l.startClock(100);
  t.equal(l.answered(1, 104), -1);
  t.equal(l.answered(1, 109), 9);
  l.request();
  t.equal(l.answered(1, 120), -1, 'the clock is not left running');
  t.equal(l.answered(3, 121), -1, 'too many answers never go negative');
  t.equal(l.awaiting, 0);
});

t.test('a rejection reports the requests to answer and discards an open batch until Sync', async (t) => {
  const l = new RequestLedger();
  l.request();
  l.request();
  l.open = true;
  l.startClock(5);
  t.equal(l.reject(), 2);
  t.equal(l.discarding, true);
  t.ok(l.quiet);
  l.request();
  t.equal(l.answered(1, 50), -1, 'the rejected clock was stopped');
  const plain = new RequestLedger();
  plain.request();
  t.equal(plain.reject(), 1);
  t.equal(plain.discarding, false, 'no batch open: nothing to discard');
});
