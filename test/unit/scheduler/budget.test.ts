// Tests how a budget's server connections follow the weighted split on fake time: hand-overs converge, stay in band, and do not churn.
import t from 'tap';
import { FakeClock } from '../../helpers/fake-clock.js';
import { Scheduler, type BudgetPolicy } from '../../../lib/scheduler/scheduler.js';
import type { ServerConnection } from '../../../lib/pool/server-connection.js';
import { policy } from './fixtures.js';
import { FakePool, FakeWaiter } from './pool-fakes.js';
import { mulberry32 } from './queue/sim.js';

interface Tenant {
  name: string;
  weight: number;
  clients: number;
  /** Hold time range of one transaction, ms. */
  holdMs: [number, number];
  /** Pause between a transaction's end and the client's next one, ms. */
  thinkMs?: number;
  /** Idle connections the pool holds at the start. */
  warm: number;
}

interface Run {
  /** Slot-ms each pool's transactions held a connection within [from, to). */
  busyMs: Map<string, number>;
  /** The same per second from `from` on. */
  perSecond: Map<string, number[]>;
  /** Each pool's connection count (open or opening), sampled every 10 ms from `from` on. */
  counts: Map<string, number[]>;
  /** Logins launched within [from, to). */
  logins: number;
  span: number;
}

/** A closed-loop client: each granted connection is held for a while, handed back, and the client comes again. */
class SimClient extends FakeWaiter {
  onGranted: (c: ServerConnection) => void = () => undefined;
  override granted(c: ServerConnection): void {
    super.granted(c);
    this.onGranted(c);
  }
}

/** Runs closed-loop tenants (one pool each) sharing one budget of `slots` on fake time; logins take loginMs. */
function simulate(slots: number, tenants: Tenant[], opts: { loginMs: number; from: number; to: number; seed: number }): Run {
  const clock = new FakeClock(0);
  const rng = mulberry32(opts.seed);
  const weights = Object.fromEntries(tenants.map((x) => [x.name, { weight: x.weight }]));
  const bp: BudgetPolicy = { mode: 'fair', policy: policy({ slots, tenants: weights }), adaptive: null };
  const sched = new Scheduler(clock, { loginRetryMs: 500, policyFor: () => bp });
  const run: Run = { busyMs: new Map(), perSecond: new Map(), counts: new Map(), logins: 0, span: opts.to - opts.from };
  const addBusy = (name: string, start: number, end: number): void => {
    const seconds = run.perSecond.get(name)!;
    for (let a = Math.max(start, opts.from); a < Math.min(end, opts.to); a = Math.floor((a - opts.from) / 1000 + 1) * 1000 + opts.from) {
      const i = Math.floor((a - opts.from) / 1000);
      const b = Math.min(end, opts.to, opts.from + (i + 1) * 1000);
      seconds[i] = (seconds[i] ?? 0) + (b - a);
      run.busyMs.set(name, run.busyMs.get(name)! + (b - a));
    }
  };
  let ids = 0;
  const pools = tenants.map((x) => {
    const pool = new FakePool(`app/${x.name}`, 'app', 'app', slots);
    for (let i = 0; i < x.warm; i++) pool.warm(ids++);
    pool.onLaunch = (p) => {
      if (clock.now() >= opts.from) run.logins++;
      clock.setTimer(() => {
        p.connected(ids++);
        sched.poolIdle(p.asPool);
      }, opts.loginMs);
    };
    run.busyMs.set(x.name, 0);
    run.perSecond.set(x.name, []);
    run.counts.set(x.name, []);
    return pool;
  });
  // The budget learns every pool (and its warm connections) before the first client arrives.
  for (const p of pools) sched.poolIdle(p.asPool);
  tenants.forEach((x, i) => {
    const pool = pools[i]!;
    for (let k = 0; k < x.clients; k++) {
      const c = new SimClient(`${x.name}${k}`, pool);
      c.onGranted = () => {
        const start = clock.now();
        const hold = x.holdMs[0] + (x.holdMs[1] - x.holdMs[0]) * rng();
        clock.setTimer(() => {
          addBusy(x.name, start, clock.now());
          const conn = c.conn!;
          c.conn = null;
          pool.used--;
          pool.idle.push(conn);
          conn.lastUsedAt = clock.now();
          sched.poolIdle(pool.asPool);
          sched.release(c);
          clock.setTimer(() => sched.acquire(c, x.name, 'default'), x.thinkMs ?? 0);
        }, hold);
      };
      sched.acquire(c, x.name, 'default');
    }
  });
  for (let at = 0; at < opts.to; at += 10) {
    clock.advance(10);
    if (clock.now() < opts.from) continue;
    for (const [i, x] of tenants.entries()) run.counts.get(x.name)!.push(pools[i]!.total);
  }
  return run;
}

const SHARES = [
  { name: 'a', weight: 1, clients: 30, holdMs: [8, 12] as [number, number], warm: 10 },
  { name: 'b', weight: 2, clients: 30, holdMs: [8, 12] as [number, number], warm: 5 },
  { name: 'c', weight: 4, clients: 30, holdMs: [8, 12] as [number, number], warm: 5 },
];

t.test('weights 1:2:4 on 20 connections that start split 10/5/5 converge to about 3/6/11 within half a second', async (t) => {
  const run = simulate(20, SHARES, { loginMs: 5, from: 500, to: 6500, seed: 7 });
  const band: Record<string, [number, number]> = { a: [2, 3], b: [5, 6], c: [11, 12] };
  for (const [name, [lo, hi]] of Object.entries(band)) {
    const counts = run.counts.get(name)!;
    const inBand = counts.filter((n) => n >= lo && n <= hi).length / counts.length;
    // A pool whose own connection came back before its new login finished holds one extra until it hands one back.
    t.ok(inBand >= 0.95, `${name}: connections within ${lo}..${hi} ${(100 * inBand).toFixed(1)}% of the time`);
    t.ok(
      counts.every((n) => n >= lo - 1 && n <= hi + 1),
      `${name}: never beyond one more or less (saw ${Math.min(...counts)}..${Math.max(...counts)})`,
    );
  }
  const total = [...run.busyMs.values()].reduce((a, b) => a + b, 0);
  t.ok(total >= 0.97 * 20 * run.span, `the budget stays busy: ${(total / run.span).toFixed(2)} of 20 slots`);
  const perSecond = run.logins / (run.span / 1000);
  t.ok(perSecond > 0, 'the split dithers between the roundings of 2.86 / 5.71 / 11.43 by moving connections');
  t.ok(perSecond <= 8, `at a few logins a second (${perSecond.toFixed(1)}/s)`);
});

t.test('once the head start of the first 10/5/5 split is paid back, shares hold within 3%, and every second within 5%', async (t) => {
  const run = simulate(20, SHARES, { loginMs: 5, from: 1500, to: 6500, seed: 11 });
  const total = [...run.busyMs.values()].reduce((a, b) => a + b, 0);
  for (const x of SHARES) {
    const share = run.busyMs.get(x.name)! / total;
    const entitled = x.weight / 7;
    t.ok(
      Math.abs(share / entitled - 1) <= 0.03,
      `${x.name}: slot-time share ${(100 * share).toFixed(1)}% vs ${(100 * entitled).toFixed(1)}% entitled`,
    );
  }
  for (let i = 0; i < 5; i++) {
    const busy = SHARES.map((x) => run.perSecond.get(x.name)![i] ?? 0);
    const total = busy.reduce((a, b) => a + b, 0);
    const worst = Math.max(...SHARES.map((x, k) => Math.abs(busy[k]! / total / (x.weight / 7) - 1)));
    t.ok(worst <= 0.05, `second ${i + 1}: worst share error ${(100 * worst).toFixed(1)}%`);
  }
});

t.test('equal weights already split evenly: no connection moves', async (t) => {
  const even = ['a', 'b'].map((name) => ({ name, weight: 1, clients: 20, holdMs: [8, 12] as [number, number], warm: 10 }));
  const run = simulate(20, even, { loginMs: 5, from: 500, to: 5500, seed: 3 });
  t.equal(run.logins, 0, 'no logins');
  t.same([Math.min(...run.counts.get('a')!), Math.max(...run.counts.get('a')!)], [10, 10], 'each keeps 10');
});

t.test('a light tenant beside a slot hog keeps its connection: no churn after warm-up', async (t) => {
  const tenants = [
    { name: 'victim', weight: 1, clients: 8, holdMs: [0.3, 0.7] as [number, number], thinkMs: 40, warm: 0 },
    { name: 'noisy', weight: 1, clients: 100, holdMs: [45, 55] as [number, number], warm: 0 },
  ];
  const run = simulate(20, tenants, { loginMs: 5, from: 1000, to: 6000, seed: 5 });
  t.ok(run.logins <= 1, `logins after the first second: ${run.logins}`);
  const victim = run.counts.get('victim')!;
  t.ok(Math.max(...victim) <= 3, `the victim holds at most 3 connections (${Math.max(...victim)})`);
  const noisy = run.counts.get('noisy')!;
  t.ok(Math.min(...noisy) >= 17, `the slot hog keeps the rest (${Math.min(...noisy)})`);
});

t.test('a quiet pool that finds its one connection busy waits for it; a backlogged one gets the returned connection', async (t) => {
  for (const backlogged of [false, true]) {
    const clock = new FakeClock(0);
    const bp: BudgetPolicy = { mode: 'fair', policy: policy({ slots: 4 }), adaptive: null };
    const sched = new Scheduler(clock, { loginRetryMs: 500, policyFor: () => bp });
    const quiet = new FakePool('app/quiet', 'app', 'app', 4);
    const hog = new FakePool('app/hog', 'app', 'app', 4);
    quiet.warm(1);
    for (let i = 2; i <= 4; i++) hog.warm(i);
    const q1 = new FakeWaiter('q1', quiet);
    sched.acquire(q1, 'quiet', 'default');
    const hogs = Array.from({ length: 6 }, (_, i) => new FakeWaiter(`h${i}`, hog));
    for (const h of hogs) sched.acquire(h, 'hog', 'default');
    // The hog holds its three connections for a long while; the quiet tenant's second transaction waits.
    clock.advance(backlogged ? 3000 : 300);
    const q2 = new FakeWaiter('q2', quiet);
    sched.acquire(q2, 'quiet', 'default');
    if (backlogged) {
      for (let i = 0; i < 3; i++) sched.acquire(new FakeWaiter(`q${i + 3}`, quiet), 'quiet', 'default');
      clock.advance(1500);
    }
    // A hog transaction ends: its connection returns while the quiet tenant is the one behind.
    const h = hogs.find((x) => x.conn)!;
    const c = h.conn!;
    h.conn = null;
    hog.used--;
    c.lastUsedAt = clock.now();
    hog.idle.push(c);
    sched.poolIdle(hog.asPool);
    sched.release(h);
    if (backlogged) {
      t.equal(quiet.launched, 1, "backlogged: the hog's returned connection is closed and one opened for the quiet pool");
      t.equal(c.closedFor, 'handed over to another pool of the same database');
    } else {
      t.equal(quiet.launched, 0, "a moment's wait: no login for the quiet pool");
      t.equal(c.closedFor, null, 'the hog keeps its connection');
      t.equal(hogs.filter((x) => x.conn).length, 3, 'and runs its next transaction on it');
    }
  }
});
