// Checks parsing of pgbench's summary, error lines, progress reports and per-transaction log on real PG 15 output.
import t from 'tap';
import {
  parsePgbenchLog,
  parsePgbenchLogLine,
  parsePgbenchProgress,
  parsePgbenchSummary,
  pgbenchErrorMessage,
  steadyState,
} from '../../../../bench/core/pgbench-output.js';

const SUMMARY = `pgbench (15.18 (Debian 15.18-0+deb12u1), server 18.4)
transaction type: <builtin: select only>
scaling factor: 1
query mode: simple
number of clients: 4
number of threads: 2
maximum number of tries: 1
duration: 2 s
number of transactions actually processed: 392
number of failed transactions: 0 (0.000%)
latency average = 2.143 ms
latency stddev = 5.865 ms
rate limit schedule lag: avg 1.397 (max 45.647) ms
initial connection time = 9.812 ms
tps = 197.117657 (without initial connection time)
`;

t.test('the summary of a clean run', async (t) => {
  t.same(parsePgbenchSummary(SUMMARY, ''), {
    processed: 392,
    failed: 0,
    tps: 197.117657,
    latencyAvgMs: 2.143,
    initialConnectMs: 9.812,
    abortedClients: 0,
    connectFailures: 0,
    errors: [],
  });
});

t.test('aborted clients are counted and their error comes first', async (t) => {
  const stderr = [
    'pgbench: error: ERROR:  prepared statement "P_0" already exists',
    'pgbench: error: client 7 script 0 aborted in command 1 query 0: ERROR:  prepared statement "P_0" does not exist',
    'pgbench: error: client 2 script 0 aborted in command 1 query 0: ERROR:  prepared statement "P_0" does not exist',
    'pgbench: error: Run was aborted; the above results are incomplete.',
  ].join('\n');
  const s = parsePgbenchSummary(SUMMARY, stderr);
  t.equal(s.abortedClients, 2);
  t.same(s.errors, ['ERROR: prepared statement "P_0" does not exist', 'ERROR: prepared statement "P_0" already exists']);
});

t.test('error lines lose their pgbench prefixes, however many', async (t) => {
  t.equal(pgbenchErrorMessage('pgbench: error: pgbench: error: ERROR:  boom'), 'ERROR: boom');
  t.equal(pgbenchErrorMessage('pgbench: error: client 3 script 0 aborted in command 0 query 0: FATAL:  no'), 'FATAL: no');
});

t.test('clients that cannot log in are counted', async (t) => {
  const stderr =
    'pgbench: error: connection to server at "127.0.0.1", port 46185 failed: FATAL:  query_wait_timeout\n' +
    'pgbench: error: could not create connection for client 3';
  const s = parsePgbenchSummary('', stderr);
  t.equal(s.connectFailures, 1);
  t.equal(s.errors[0], 'connection to server at "127.0.0.1", port 46185 failed: FATAL: query_wait_timeout');
});

t.test('missing figures are NaN', async (t) => {
  const s = parsePgbenchSummary('pgbench (15.18)\n', 'pgbench: error: connection to server failed');
  t.ok(Number.isNaN(s.processed) && Number.isNaN(s.tps));
  t.equal(s.failed, 0);
  t.same(s.errors, ['connection to server failed']);
});

t.test('progress reports and the steady state after the first', async (t) => {
  t.same(parsePgbenchProgress('progress: 2.0 s, 15234.1 tps, lat 0.655 ms stddev 0.201, 3 failed'), {
    elapsedS: 2,
    tps: 15234.1,
    latencyMs: 0.655,
    failed: 3,
  });
  t.same(parsePgbenchProgress('progress: 3.1 s, 0.0 tps, lat 0.000 ms stddev 0.000, 0 failed'), {
    elapsedS: 3.1,
    tps: 0,
    latencyMs: 0,
    failed: 0,
  });
  t.equal(parsePgbenchProgress('number of clients: 4'), null);
  const steady = steadyState([
    { elapsedS: 5, tps: 10, latencyMs: 100, failed: 0 }, // covers the logins: left out
    { elapsedS: 6, tps: 1000, latencyMs: 1, failed: 0 },
    { elapsedS: 7, tps: 3000, latencyMs: 2, failed: 1 },
  ]);
  t.equal(steady.seconds, 2);
  t.equal(steady.txns, 4000);
  t.equal(steady.tps, 2000);
  t.equal(steady.latencyAvgMs, (1000 * 1 + 3000 * 2) / 4000, 'transaction-weighted latency');
  t.equal(steady.failed, 1);
  t.ok(Number.isNaN(steadyState([{ elapsedS: 1, tps: 5, latencyMs: 1, failed: 0 }]).tps), 'one report is no window');
});

t.test('per-transaction log lines, with and without --rate', async (t) => {
  t.same(parsePgbenchLogLine('0 1 1161 0 1795269843 832846 86'), { client: 0, status: 'ok', latencyUs: 1161, endUs: 1795269843832846 });
  t.same(parsePgbenchLogLine('3 14 26 0 1795269850 51841'), { client: 3, status: 'ok', latencyUs: 26, endUs: 1795269850051841 });
  const failed = parsePgbenchLogLine('2 9 failed 0 1795269850 51841');
  t.equal(failed?.status, 'failed');
  t.ok(Number.isNaN(failed?.latencyUs));
  t.equal(parsePgbenchLogLine('2 9 skipped 0 1795269850 51841 5000')?.status, 'skipped');
  t.equal(parsePgbenchLogLine('garbage'), null);
  t.equal(parsePgbenchLogLine('a b c d e f'), null);
  t.equal(parsePgbenchLog('0 1 10 0 1 0\n\nbad\n1 1 20 0 1 5\n').length, 2, 'blank and bad lines are skipped');
});
