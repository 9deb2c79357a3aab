// Checks /proc/<pid>/stat parsing (including command names with spaces and parentheses) and the CPU/RSS arithmetic.
import t from 'tap';
import { cpuMicros, parseProcStat, readProcStat, rssMegabytes } from '../../../../bench/core/proc-stat.js';

// A real line's shape: pid (comm) state ppid ... with utime=1200 stime=345 (fields 14, 15) and rss=25600 (field 24).
const fields = (comm: string) =>
  `4242 (${comm}) S 1 4242 4242 0 -1 4194560 5000 0 0 0 1200 345 0 0 20 0 11 0 123456 1048576000 25600 18446744073709551615 1 1 0 0 0 0 0 4096 17922 0 0 0 17 1 0 0 0 0 0`;

t.test('utime + stime and rss are read from their fields', async (t) => {
  t.same(parseProcStat(fields('node')), { cpuTicks: 1545, rssPages: 25600 });
});

t.test('a command name with spaces and ")" does not shift the fields', async (t) => {
  t.same(parseProcStat(fields('my (odd) proc) name')), { cpuTicks: 1545, rssPages: 25600 });
});

t.test('malformed lines are refused', async (t) => {
  t.throws(() => parseProcStat('no parentheses here'), /no "\)"/);
  t.throws(() => parseProcStat('1 (x) S 1'), /field 14 is not a number/);
});

t.test('CPU microseconds and RSS megabytes use the machine units', async (t) => {
  const units = { ticksPerSecond: 100, pageBytes: 4096 };
  t.equal(cpuMicros({ cpuTicks: 100, rssPages: 0 }, { cpuTicks: 250, rssPages: 0 }, units), 1_500_000, '150 ticks at 100 Hz = 1.5 s');
  t.equal(rssMegabytes({ cpuTicks: 0, rssPages: 25600 }, units), 100, '25600 pages of 4 KiB = 100 MiB');
});

t.test('this process can be read from /proc', async (t) => {
  const sample = await readProcStat(process.pid);
  t.ok(sample.rssPages > 0, `rss ${sample.rssPages} pages`);
  t.ok(sample.cpuTicks >= 0);
});
