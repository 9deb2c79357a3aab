// Tests for the Gradient2/Envoy-style elastic budget on synthetic latency, alone and wired into QueueEngine.
import t from 'tap';
import { AdaptiveLimit, type AdaptiveLimitOptions } from '../../../../lib/scheduler/adaptive/adaptive-limit.js';
import { QueueEngine } from '../../../../lib/scheduler/queue/queue-engine.js';
import { policy } from '../fixtures.js';
import { mulberry32, Sim, uniform, type SimItem } from '../queue/sim.js';
import { FakeClock } from '../../../helpers/fake-clock.js';

function limiter(o: Partial<AdaptiveLimitOptions> = {}) {
  const clock = new FakeClock();
  const limit = new AdaptiveLimit({ now: clock.now, min: 1, max: 18, probeIntervalMs: 0, ...o });
  const rng = mulberry32(1);
  /** Elastic work beside it: a 50 ms statement that runs at its own speed (it does not load the server). */
  const steady = (): void => limit.updateElastic('scan', 50 * (0.9 + 0.2 * rng()));
  /** Feeds `ms` of traffic at latency ≈ `latency(t)` ±10%, 20 samples per 100 ms window, and steady elastic samples. */
  const feed = (ms: number, latency: (t: number) => number): void => {
    for (let end = clock.t + ms; clock.t < end; clock.t += 5) {
      limit.update(latency(clock.t) * (0.9 + 0.2 * rng()));
      steady();
    }
  };
  /** `ms` with only elastic work running, at its own steady latency. */
  const alone = (ms: number): void => {
    for (let end = clock.t + ms; clock.t < end; clock.t += 5) steady();
  };
  return { clock, limit, feed, alone };
}

t.test('grows to max while latency stays at its baseline', async (t) => {
  const { limit, feed } = limiter();
  t.equal(limit.elasticSlots(), 1, 'starts at min by default');
  feed(3000, () => 5);
  t.equal(limit.elasticSlots(), 18);
  t.ok(limit.minRttMs! > 4 && limit.minRttMs! < 6, `minRTT ${limit.minRttMs}`);
});

t.test('shrinks when latency inflates and recovers when it returns', async (t) => {
  const { limit, feed } = limiter({ initial: 18 });
  feed(2000, () => 5);
  t.equal(limit.elasticSlots(), 18);
  feed(2000, () => 20);
  const squeezed = limit.elasticSlots();
  t.ok(squeezed <= 4, `4× latency squeezes the budget to ${squeezed}`);
  t.ok(squeezed >= 1, 'never below min');
  feed(3000, () => 5);
  t.equal(limit.elasticSlots(), 18, 'back to max');
});

t.test('sustained 2× latency takes the budget to its minimum, not to a floor of 4', async (t) => {
  const { limit, feed } = limiter({ initial: 18 });
  feed(2000, () => 5);
  feed(3000, () => 10);
  // E·g + √E alone would settle at E = 4 (g = 0.5), enough elastic work to saturate a small server.
  t.equal(limit.elasticSlots(), 1, `2× latency: ${limit.current.toFixed(2)} elastic slots`);
  const mild = limiter({ initial: 18 });
  mild.feed(2000, () => 5);
  mild.feed(3000, () => 5.75);
  t.ok(mild.limit.elasticSlots() >= 12, `within 15% of the baseline the budget stays high (${mild.limit.current.toFixed(1)})`);
});

t.test('sparse samples are pooled across windows; bad samples are ignored', async (t) => {
  const { clock, limit } = limiter({ initial: 10 });
  limit.update(5);
  for (let i = 0; i < 4; i++) {
    clock.t += 100;
    limit.update(5);
    limit.update(NaN);
    limit.update(-1);
    t.equal(limit.minRttMs, null, `window ${i}: too few samples yet, the window stretches`);
  }
  clock.t += 100;
  limit.update(5);
  t.equal(limit.minRttMs, 5, 'judged once five samples came in');
  clock.t += 1000;
  limit.update(40);
  const before = limit.current;
  clock.t += 999;
  limit.elasticSlots();
  t.equal(limit.current, before, 'a lone sample waits for company');
  clock.t += 1;
  limit.elasticSlots();
  t.ok(limit.current < before, 'but is judged after ten windows at most');
});

t.test('with no latency-sensitive work running the budget grows, unless elastic work is app-limited', async (t) => {
  let inFlight = 18;
  const { limit, alone } = limiter({ initial: 2, inFlight: () => inFlight });
  alone(3000);
  t.equal(limit.elasticSlots(), 18, 'nothing to protect, and elastic work keeps its speed: it may use every slot');
  const other = limiter({ initial: 2, inFlight: () => 0 });
  other.alone(3000);
  t.equal(other.limit.elasticSlots(), 2, 'no growth without elastic demand');
  inFlight = 0;
});

t.test('latency-sensitive work returning to a server elastic work already loads gets a probe, not an inflated baseline', async (t) => {
  const { limit, feed, alone } = limiter({ initial: 1, inFlight: () => limit.elasticSlots(), probeMs: 1000 });
  alone(3000);
  t.equal(limit.elasticSlots(), 18, 'alone, elastic work grew to every slot');
  // The victim's server time grows with the elastic backends it shares the CPU with.
  const loaded = () => 5 * (1 + limit.elasticSlots() / 4);
  feed(200, loaded);
  t.ok(limit.probing, 'its return starts a probe');
  t.equal(limit.elasticSlots(), 1, 'elastic work is held at its minimum meanwhile');
  feed(3000, loaded);
  t.ok(limit.minRttMs! < 8, `the baseline is the server's own (${limit.minRttMs!.toFixed(1)} ms), not the loaded one (27.5 ms)`);
  t.ok(limit.elasticSlots() <= 4, `and elastic work stays squeezed (${limit.current.toFixed(1)} slots)`);
  const steady = limiter({ initial: 18 });
  steady.feed(3000, () => 5);
  t.notOk(steady.limit.probing, 'control: work that never left gets no probe');
});

t.test('does not grow while elastic work uses under half the budget', async (t) => {
  let inFlight = 0;
  const { limit, feed } = limiter({ initial: 8, inFlight: () => inFlight });
  feed(2000, () => 5);
  t.equal(limit.elasticSlots(), 8, 'app-limited: no evidence a larger budget is safe');
  inFlight = 18;
  feed(1000, () => 5);
  t.equal(limit.elasticSlots(), 18);
});

t.test('a probe drops to min and re-measures minRTT, so a drifted baseline is relearned', async (t) => {
  const { limit, feed } = limiter({ initial: 18, probeIntervalMs: 5000, probeMs: 500, random: () => 0.5, jitter: 0.2 });
  feed(4900, () => 5);
  t.equal(limit.elasticSlots(), 18);
  feed(200, () => 10);
  t.ok(limit.probing, 'probe started at 5 s');
  t.equal(limit.elasticSlots(), 1, 'budget at min during the probe');
  feed(600, () => 10);
  t.notOk(limit.probing);
  t.ok(limit.minRttMs! > 8, `new baseline ${limit.minRttMs!.toFixed(1)} ms`);
  feed(2000, () => 10);
  t.equal(limit.elasticSlots(), 18, 'the slower-but-stable server gets its budget back');
  t.throws(() => new AdaptiveLimit({ now: () => 0, min: 5, max: 2 }), RangeError);
});

t.test('wired into QueueEngine, it caps elastic work when it slows the OLTP victim', async (t) => {
  const run = (adaptive: boolean) => {
    const clock = new FakeClock();
    const limit = new AdaptiveLimit({ now: clock.now, min: 1, max: 18, probeIntervalMs: 10_000, probeMs: 1000 });
    const p = policy({ slots: 20, headroom: { min: 2, max: 2 }, classes: { analytics: { elastic: true, lane: 'long' } } });
    const q = new QueueEngine<SimItem>('fair', p, clock.now, adaptive ? { elastic: limit } : {});
    // The victim's server time grows with the CPU-bound elastic backends sharing 4 cores.
    const victimMs = () => 1 * (1 + q.elasticHeld / 4);
    const latencies: number[] = [];
    let elasticPeakLate = 0;
    const s = new Sim(q, clock, {
      seed: 17,
      afterEvent: () => {
        if (clock.t > 10_000) elasticPeakLate = Math.max(elasticPeakLate, q.elasticHeld);
      },
    });
    s.addClients({ tenant: 'V', count: 4, holdMs: () => victimMs(), thinkMs: uniform(0, 10) });
    s.addClients({ tenant: 'A', cls: 'analytics', count: 64, holdMs: uniform(150, 250) });
    const release = q.release.bind(q);
    q.release = (g) => {
      if (g.tenant === 'V') {
        const ms = clock.t - g.dispatchedAt;
        latencies.push(ms);
        limit.update(ms);
      } else limit.updateElastic('scan', clock.t - g.dispatchedAt);
      release(g);
    };
    s.run(30_000);
    const late = latencies.slice(Math.floor(latencies.length / 2)).sort((a, b) => a - b);
    return { p99: late[Math.floor(late.length * 0.99)]!, elasticPeakLate, elasticTxns: s.waits.get('A')!.length };
  };
  const on = run(true);
  const off = run(false);
  t.ok(off.p99 > 4, `without the limiter the victim is slowed ${off.p99.toFixed(2)}× its 1 ms`);
  t.ok(on.p99 < 0.6 * off.p99, `with it the victim's p99 drops to ${on.p99.toFixed(2)} ms`);
  t.ok(on.elasticPeakLate < off.elasticPeakLate, `elastic slots cut from ${off.elasticPeakLate} to ${on.elasticPeakLate}`);
  t.ok(on.elasticTxns > 0, 'elastic work still progresses');
});

t.test('elastic work alone is capped by its own inflation before any latency-sensitive work shows up', async (t) => {
  /** 200 ms CPU-bound scans, the budget's worth always running; only elastic samples, no victim yet. */
  const run = (cores: number) => {
    const clock = new FakeClock();
    const limit: AdaptiveLimit = new AdaptiveLimit({
      now: clock.now,
      min: 1,
      max: 18,
      probeIntervalMs: 0,
      inFlight: (): number => limit.elasticSlots(),
    });
    const latency = () => 200 * Math.max(1, limit.elasticSlots() / cores);
    const due: number[] = [];
    let late = 0;
    let n = 0;
    for (; clock.t < 20_000; clock.t += 5) {
      const slots = limit.elasticSlots();
      while (due.length < slots) due.push(clock.t + latency());
      due.length = slots;
      for (let i = 0; i < due.length; i++) {
        if (due[i]! > clock.t) continue;
        limit.updateElastic('SELECT sum(abalance) FROM pgbench_accounts', latency());
        due[i] = clock.t + latency();
      }
      if (clock.t > 10_000) {
        late += slots;
        n++;
      }
    }
    return late / n;
  };
  const capped = run(2);
  t.ok(capped <= 5, `with its own gradient, ${capped.toFixed(1)} scans on average share the 2 cores`);
  t.ok(capped >= 2, 'and they still use both cores');
  t.equal(run(64), 18, 'with cores for every scan, nothing inflates and it takes every slot');
});

t.test("the lower of the two limits wins: a victim's inflation squeezes elastic work whose own latency is fine", async (t) => {
  const { limit, feed } = limiter({ initial: 18 });
  feed(2000, () => 5);
  t.equal(limit.elasticOwnLimit, 18, 'elastic work runs at its own speed');
  feed(2000, () => 20);
  t.ok(limit.elasticSlots() <= 4, `the victim's 4× still squeezes it to ${limit.elasticSlots()}`);
  t.equal(limit.elasticOwnLimit, 18, 'while its own limit stays high');
});

t.test('state() shows the budget, both limits and the latency signals that set them', async (t) => {
  const { limit, feed } = limiter({ initial: 18 });
  t.same(limit.state(), {
    elasticSlots: 18,
    latencyLimit: 18,
    ownLimit: 18,
    latencyMs: null,
    baselineMs: null,
    elasticInflation: null,
    probing: false,
  });
  feed(2000, () => 5);
  feed(1000, () => 20);
  const s = limit.state();
  t.ok(s.latencyMs! > 15, `the last window's p90 is the inflated latency (${s.latencyMs})`);
  t.ok(s.baselineMs! < 6, `against the baseline (${s.baselineMs})`);
  t.ok(s.latencyLimit < 18, `which shrank the latency limit (${s.latencyLimit})`);
  t.ok(s.elasticInflation! > 0.9 && s.elasticInflation! < 1.2, `elastic work's own latency is steady (${s.elasticInflation})`);
  t.equal(s.ownLimit, 18, 'so its own limit stays');
  t.equal(s.elasticSlots, Math.floor(Math.min(s.latencyLimit, s.ownLimit)), 'the budget is the lower of the two');
});
