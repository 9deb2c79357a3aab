// The fair-versus-fifo table: medians over rounds per mode, the fair / fifo ratios, and failed rounds as footnotes.
import t from 'tap';
import { fairFifoLines, median, renderFairFifo } from '../../../../bench/scenarios/fair-fifo-report.js';
import type { Row } from '../../../../bench/scenarios/scenario.js';

const row = (scheduler: string, clients: number, tps: number, cpuUsPerTxn: number, round = 0): Row => ({
  variant: `${scheduler} ${clients}`,
  target: 'sluice',
  scheduler,
  clients,
  round,
  tps,
  cpuUsPerTxn,
  latencyMs: (clients / tps) * 1000,
});

t.test('median of odd and even counts ignores non-finite values', async (t) => {
  t.equal(median([3, 1, 2]), 2);
  t.equal(median([4, 1, 3, 2]), 2.5);
  t.equal(median([NaN, 5]), 5);
  t.ok(Number.isNaN(median([])));
});

t.test('lines pair the modes per client count with medians over rounds and fair / fifo ratios', async (t) => {
  const rows = [
    row('fifo', 50, 1000, 20),
    row('fair', 50, 900, 25),
    row('fifo', 10, 500, 30, 0),
    row('fair', 10, 480, 33, 0),
    row('fair', 10, 520, 31, 1),
    row('fifo', 10, 540, 28, 1),
  ];
  const lines = fairFifoLines(rows);
  t.same(
    lines.map((l) => l.clients),
    [10, 50],
  );
  const [ten, fifty] = lines;
  t.equal(ten!.fifo.rounds, 2);
  t.equal(ten!.fifo.tps, 520);
  t.equal(ten!.fair.tps, 500);
  t.equal(ten!.tpsRatio, 500 / 520);
  t.equal(ten!.cpuRatio, 32 / 29);
  t.equal(fifty!.tpsRatio, 0.9);
  t.equal(fifty!.cpuRatio, 1.25);
});

t.test('a failed round is left out of the median and a mode with none left shows its error', async (t) => {
  const rows: Row[] = [
    row('fifo', 10, 500, 30),
    { ...row('fifo', 10, 0, 0, 1), error: 'Sluice did not start' },
    { ...row('fair', 10, 0, 0), error: 'Sluice did not start' },
  ];
  const [line] = fairFifoLines(rows);
  t.equal(line!.fifo.rounds, 1);
  t.equal(line!.fifo.tps, 500);
  t.equal(line!.fair.rounds, 0);
  t.ok(Number.isNaN(line!.tpsRatio));
  const md = renderFairFifo({ rows, notes: ['a note'] });
  t.match(md, /\| 10 \| 1 \/ 0 \| 500 \| failed \[1\] \| – \|/);
  t.match(md, /\[1\] Sluice did not start/);
  t.match(md, /- a note/);
});

t.test('the table shows both modes and the ratios', async (t) => {
  const md = renderFairFifo({ rows: [row('fifo', 10, 1000, 20), row('fair', 10, 980, 21)], notes: [] });
  t.match(md, /### 1b\. Fair versus fifo/);
  t.match(md, /\| 10 \| 1 \/ 1 \| 1,000 \| 980 \| 0\.98× \| 20\.0 \| 21\.0 \| 1\.05× \|/);
});
