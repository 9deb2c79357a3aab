// TransactionTiming: a transaction counts from server assignment (or first request) to its end; queries count busy time only.
import t from 'tap';
import { PoolStats } from '../../../lib/pool/pool-stats.js';
import { TransactionTiming } from '../../../lib/session/transaction-timing.js';

t.test('transaction mode: linked with a request waiting, one round trip, transaction over', async (t) => {
  const stats = new PoolStats(0);
  const tt = new TransactionTiming();
  tt.linked(stats, 100, 30, true);
  tt.ready(stats, 1, 104, true, true);
  t.match(stats.totals(), { serverAssignments: 1, waitUs: 30_000, queryCount: 1, queryUs: 4000, xactCount: 1, xactUs: 4000 });
});

t.test('an explicit transaction: idle gaps count towards the transaction, not towards queries', async (t) => {
  const stats = new PoolStats(0);
  const tt = new TransactionTiming();
  tt.linked(stats, 0, 0, true); // BEGIN
  tt.ready(stats, 1, 1, true, false);
  tt.busy(11); // SELECT after 10 ms idle in transaction
  tt.ready(stats, 1, 13, true, false);
  tt.busy(20); // COMMIT
  tt.ready(stats, 1, 21, true, true);
  t.match(stats.totals(), { queryCount: 3, queryUs: 4000, xactCount: 1, xactUs: 21_000 });
});

t.test('pipelined requests: busy time is counted once, when the last answer arrives', async (t) => {
  const stats = new PoolStats(0);
  const tt = new TransactionTiming();
  tt.busy(0);
  tt.ready(stats, 2, 5, false, false);
  t.equal(stats.queryUs, 0, 'still busy');
  tt.ready(stats, 1, 8, true, true);
  t.match(stats.totals(), { queryCount: 3, queryUs: 8000, xactCount: 1, xactUs: 8000 });
  tt.ready(stats, 1, 9, true, true);
  t.equal(stats.xactCount, 1, 'no transaction without a start');
});
