// Tests elastic work's own latency gradient on a fake clock: CPU-bound inflation shrinks it, recovery grows it, shapes are judged apart.
import t from 'tap';
import { ElasticGradient, type ElasticGradientOptions } from '../../../../lib/scheduler/adaptive/elastic-gradient.js';
import { mulberry32 } from '../queue/sim.js';
import { FakeClock } from '../../../helpers/fake-clock.js';

/** Elastic statements on a server of `cores` CPUs: each takes `baseMs` alone and shares the cores with the rest. */
function cpuBound(o: Partial<ElasticGradientOptions> = {}) {
  const clock = new FakeClock();
  const g = new ElasticGradient({ now: clock.now, min: 1, max: 18, initial: 1, ...o });
  const rng = mulberry32(7);
  let cores = 2;
  const latency = (baseMs: number): number => baseMs * Math.max(1, Math.floor(g.current) / cores) * (0.95 + 0.1 * rng());
  /** Runs `ms` with the limit's worth of 200 ms scans always running; returns the mean slots of its second half. */
  const run = (ms: number, baseMs = 200): number => {
    const due: number[] = [];
    let sum = 0;
    let n = 0;
    const half = clock.t + ms / 2;
    for (let end = clock.t + ms; clock.t < end; clock.t += 5) {
      while (due.length < Math.floor(g.current)) due.push(clock.t + latency(baseMs));
      for (let i = 0; i < due.length; i++) {
        if (due[i]! > clock.t) continue;
        g.update('scan', latency(baseMs));
        due[i] = clock.t + latency(baseMs);
      }
      due.length = Math.min(due.length, Math.floor(g.current));
      g.roll(clock.t);
      if (clock.t >= half) {
        sum += Math.floor(g.current);
        n++;
      }
    }
    return sum / n;
  };
  return { clock, g, run, setCores: (n: number) => void (cores = n) };
}

t.test('CPU-bound elastic work alone settles near what the cores run without queueing', async (t) => {
  const { run } = cpuBound();
  const mean = run(20_000);
  t.ok(mean >= 2, `uses the cores (${mean.toFixed(1)} slots on average)`);
  t.ok(mean <= 5, `does not queue 18 scans on 2 cores (${mean.toFixed(1)} slots on average)`);
});

t.test('a budget that grew too far shrinks on its own inflation, and grows back once latency recovers', async (t) => {
  const { g, run, setCores } = cpuBound({ initial: 18 });
  // 18 scans on 2 cores take 9× their time; the baseline is known from an uncontended run.
  g.update('scan', 200);
  const squeezed = run(10_000);
  t.ok(squeezed <= 5, `inflation squeezes the budget to ${squeezed.toFixed(1)} slots on average`);
  t.ok(g.current >= 1, 'never below min');
  // The server now has the CPU for every slot (the scans no longer queue for cores).
  setCores(32);
  run(10_000);
  t.equal(g.current, 18, 'latency back at its baseline: back to max');
});

t.test('statement shapes are judged against their own baseline, so slow and fast statements mix', async (t) => {
  const clock = new FakeClock();
  const g = new ElasticGradient({ now: clock.now, min: 1, max: 18, initial: 4 });
  const rng = mulberry32(3);
  for (; clock.t < 5000; clock.t += 10) {
    g.update('SELECT sum(x) FROM big', 200 * (0.95 + 0.1 * rng()));
    g.update('SELECT x FROM small WHERE id = ?', 5 * (0.95 + 0.1 * rng()));
  }
  t.equal(g.current, 18, 'neither shape is slower than itself: the budget grows');
  t.ok(g.baseline('SELECT sum(x) FROM big')! > 180, 'each shape keeps its own baseline');
  t.ok(g.baseline('SELECT x FROM small WHERE id = ?')! < 6);
  for (let end = clock.t + 3000; clock.t < end; clock.t += 10) g.update('SELECT sum(x) FROM big', 800);
  t.ok(g.current < 4, `one shape 4× slower than itself shrinks it (${g.current.toFixed(1)})`);
});

t.test("a quick statement's jitter is no inflation; no samples, no change; bad samples are ignored", async (t) => {
  const clock = new FakeClock();
  const g = new ElasticGradient({ now: clock.now, min: 1, max: 18, initial: 6 });
  for (; clock.t < 3000; clock.t += 10) g.update('BEGIN', clock.t % 20 === 0 ? 0.05 : 0.4);
  t.equal(g.current, 18, '0.05 to 0.4 ms is noise, not an 8× slowdown');
  const idle = new ElasticGradient({ now: clock.now, min: 1, max: 18, initial: 6 });
  clock.t += 10_000;
  idle.roll(clock.t);
  idle.update('q', NaN);
  idle.update('q', -1);
  clock.t += 10_000;
  idle.roll(clock.t);
  t.equal(idle.current, 6, 'nothing measured: the limit stays');
  t.equal(idle.baseline('q'), undefined);
});

t.test('the baseline creeps up to a shape that really got slower, and shapes are bounded', async (t) => {
  const clock = new FakeClock();
  const g = new ElasticGradient({ now: clock.now, min: 1, max: 18, initial: 18, maxShapes: 3 });
  g.update('scan', 100);
  for (let i = 0; i < 20; i++) {
    clock.t += 250;
    g.update('scan', 300);
  }
  t.ok(g.baseline('scan')! < 110, `seconds of slowness are still inflation (${g.baseline('scan')!.toFixed(0)} ms)`);
  for (let i = 0; i < 150; i++) {
    clock.t += 1000;
    g.update('scan', 300);
  }
  t.ok(g.baseline('scan')! > 250, `minutes of it are the new baseline (${g.baseline('scan')!.toFixed(0)} ms)`);
  for (const s of ['a', 'b', 'c']) g.update(s, 1);
  t.equal(g.baseline('scan'), undefined, 'the least recently seen shape is forgotten');
  t.equal(g.baseline('c'), 1);
});

t.test('does not grow while elastic work uses under half of it', async (t) => {
  const clock = new FakeClock();
  const g = new ElasticGradient({ now: clock.now, min: 1, max: 18, initial: 6, inFlight: () => 2 });
  for (; clock.t < 3000; clock.t += 10) g.update('scan', 50);
  t.equal(g.current, 6);
});
