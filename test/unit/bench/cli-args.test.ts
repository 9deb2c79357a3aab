// Checks the bench command line: scenario and target selection, durations, quick mode and table mode.
import t from 'tap';
import { parseBenchArgs } from '../../../bench/cli-args.js';

t.test('no arguments: every scenario but faults and soak through every target, 10 s per run', async (t) => {
  const a = parseBenchArgs([], {});
  t.same(a.scenarios, ['throughput', 'fairfifo', 'noisy', 'storm', 'idle', 'http']);
  t.equal(a.soakSeconds, 600, 'a soak runs 10 minutes unless told');
  t.same(a.targets, ['direct', 'pgbouncer', 'sluice']);
  t.equal(a.seconds, 10);
  t.equal(a.quick, false);
  t.equal(a.table, false);
});

t.test('one scenario alone, quick, some targets', async (t) => {
  const a = parseBenchArgs(['noisy', '--quick', '--targets', 'sluice,pgbouncer'], {});
  t.same(a.scenarios, ['noisy']);
  t.same(a.targets, ['sluice', 'pgbouncer']);
  t.equal(a.seconds, 2, 'quick runs are short');
});

t.test('durations: --seconds wins over BENCH_SECONDS, which wins over the default', async (t) => {
  t.equal(parseBenchArgs([], { BENCH_SECONDS: '30' }).seconds, 30);
  t.equal(parseBenchArgs(['--seconds', '5'], { BENCH_SECONDS: '30' }).seconds, 5);
  t.throws(() => parseBenchArgs(['--seconds', '0'], {}), /whole number >= 1/);
  t.throws(() => parseBenchArgs([], { BENCH_SECONDS: 'soon' }), /whole number >= 1/);
});

t.test('faults and soak run when named; the soak takes its own duration', async (t) => {
  t.same(parseBenchArgs(['faults', 'soak'], {}).scenarios, ['faults', 'soak']);
  t.equal(parseBenchArgs(['soak', '--soak-seconds', '90'], {}).soakSeconds, 90);
  t.equal(parseBenchArgs(['soak', '--quick'], {}).soakSeconds, 60, 'a quick soak is a minute');
  t.throws(() => parseBenchArgs(['soak', '--soak-seconds', '5'], {}), /whole number >= 10/);
});

t.test('unknown names are refused with the list of known ones', async (t) => {
  t.throws(() => parseBenchArgs(['noisey'], {}), /unknown scenario "noisey" \(one of: throughput, fairfifo, noisy/);
  t.throws(() => parseBenchArgs(['--targets', 'odyssey'], {}), /unknown target "odyssey"/);
});

t.test('--table prints the newest results, or a given directory', async (t) => {
  t.equal(parseBenchArgs(['--table'], {}).table, true);
  t.equal(parseBenchArgs(['--table', 'bench/results/2030-01-01'], {}).table, 'bench/results/2030-01-01');
});
