// PoolStats: totals count each event once, in microseconds; averages cover only the last complete period.
import t from 'tap';
import { PoolStats } from '../../../lib/pool/pool-stats.js';

t.test('events add to the totals, times in microseconds', async (t) => {
  const s = new PoolStats(0);
  s.assigned(2.5);
  s.assigned(0);
  s.queriesDone(3, 1.25);
  s.xactDone(4);
  s.bytesReceived += 100;
  s.bytesSent += 300;
  s.clientLogins++;
  t.same(s.totals(), {
    serverAssignments: 2,
    xactCount: 1,
    queryCount: 3,
    bytesReceived: 100,
    bytesSent: 300,
    xactUs: 4000,
    queryUs: 1250,
    waitUs: 2500,
    clientParseCount: 0,
    serverParseCount: 0,
    bindCount: 0,
    clientLogins: 1,
  });
});

t.test('averages are zero until a period completes, then describe only that period', async (t) => {
  const s = new PoolStats(0);
  for (let i = 0; i < 10; i++) s.xactDone(2);
  s.queriesDone(20, 10);
  s.assigned(5);
  s.assigned(15);
  s.bytesSent += 4000;
  t.equal(s.averages().xactCount, 0, 'nothing before the first roll');
  t.notOk(s.roll(1999, 2000), 'the period is not over yet');
  t.ok(s.roll(2000, 2000));
  const a = s.averages();
  t.equal(a.xactCount, 5, '10 transactions in 2 s');
  t.equal(a.queryCount, 10, '20 queries in 2 s');
  t.equal(a.bytesSent, 2000, 'bytes per second');
  t.equal(a.xactUs, 2000, 'average transaction time');
  t.equal(a.queryUs, 500, 'average query time: 10 ms over 20 queries');
  t.equal(a.waitUs, 10_000, 'average wait per assignment');

  s.xactDone(8);
  t.ok(s.roll(4000, 2000));
  t.equal(s.averages().xactCount, 1, 'the next period counts only its own transaction (rounded)');
  t.equal(s.averages().xactUs, 8000);
  t.equal(s.averages().waitUs, 0, 'no assignments in this period');
  t.equal(s.totals().xactCount, 11, 'totals keep growing');
});
