// Tests the translation of the config snapshot into a database's slot budget, tenant and class policies.
import t from 'tap';
import { effectiveHeadroom } from '../../../lib/config/isolation-schema.js';
import { parseConfig } from '../../../lib/config/schema.js';
import type { SluiceConfig } from '../../../lib/config/types.js';
import { FakeClock } from '../../helpers/fake-clock.js';
import { Budget, type Waiter } from '../../../lib/scheduler/budget.js';
import { budgetPolicy } from '../../../lib/scheduler/budget-policy.js';
import { policyProblems } from '../../../lib/scheduler/queue/policy.js';

function config(settings: Record<string, unknown> = {}, app: Record<string, unknown> = {}): SluiceConfig {
  return parseConfig(
    { auth_type: 'trust', databases: { app: { host: '127.0.0.1', ...app }, other: { host: '127.0.0.1' } }, ...settings },
    { baseDir: '/' },
  );
}

t.test('effectiveHeadroom keeps at most a quarter of the slots, so small pools lose no slot to headroom', async (t) => {
  const h = { min: 1, max: 2 };
  t.same(effectiveHeadroom(h, 1), { min: 0, max: 0 });
  t.same(effectiveHeadroom(h, 3), { min: 0, max: 0 });
  t.same(effectiveHeadroom(h, 4), { min: 1, max: 1 });
  t.same(effectiveHeadroom(h, 8), { min: 1, max: 2 });
  t.same(effectiveHeadroom(h, 100), { min: 1, max: 2 }, 'large budgets keep the configured headroom');
  t.same(effectiveHeadroom({ min: 3, max: 5 }, 12), { min: 3, max: 3 }, 'min never exceeds the scaled max');
});

t.test('budgetPolicy: the snapshot becomes a valid scheduler policy with scaled headroom', async (t) => {
  const c = config({
    default_pool_size: 2,
    scheduler: { mode: 'shadow', headroom_min: 1, headroom_max: 2, burst: 0.5, default_cost: 0.02 },
    tenants: {
      default: { weight: 2 },
      acme: { weight: 4, reservation: 0, limit: 6, max_queue: 10, rate: { per_second: 50, burst: 5, mode: 'reject' } },
    },
    classes: { analytics: { weight: 0.5, limit: 2, elastic: true, lane: 'long', queue_timeout: 30 }, migration: { total_limit: 1 } },
  });
  const bp = budgetPolicy(c, 2);
  t.equal(bp.mode, 'shadow');
  t.same(bp.adaptive, { min: 1 }, 'adaptive_limit is on by default, down to 1 slot');
  t.equal(bp.policy.headroomFadeMs, 1000, 'headroom_fade comes through in ms');
  t.equal(bp.policy.slots, 2);
  t.same(bp.policy.headroom, { min: 0, max: 0 }, 'a pool of 2 keeps no headroom');
  t.equal(bp.policy.burstSlotSeconds, 0.5);
  t.equal(bp.policy.defaultCostMs, 20, 'seconds in YAML, ms in the policy');
  t.equal(bp.policy.defaultTenant.weight, 2, 'tenants.default is the policy of unlisted tenants');
  t.notOk(bp.policy.tenants.has('default'), 'and not a tenant of its own');
  t.same(
    bp.policy.tenants.get('acme'),
    {
      weight: 4,
      reservation: 0,
      limit: 6,
      maxQueue: 10,
      queueTimeoutMs: 120_000,
      rate: { perSecond: 50, burst: 5, mode: 'reject' },
    },
    'no queue_timeout of its own: the default query_wait_timeout of 120 s',
  );
  t.same(bp.policy.classes.get('analytics'), {
    weight: 0.5,
    limit: 2,
    queueTimeoutMs: 30_000,
    elastic: true,
    lane: 'long',
    totalLimit: Infinity,
  });
  t.equal(bp.policy.classes.get('migration')!.totalLimit, 1, 'total_limit caps the class across tenants');
  t.equal(bp.policy.earlyReject, true, 'early reject is on by default');
  t.same(policyProblems(bp.policy), [], 'the scheduler accepts it');
});

t.test('budgetPolicy: a tenant without queue_timeout waits query_wait_timeout; its own timeout wins', async (t) => {
  const c = config({ query_wait_timeout: 5, tenants: { slow: { queue_timeout: 0.25 }, plain: { weight: 1 } } });
  const p = budgetPolicy(c, 2).policy;
  t.equal(p.tenants.get('slow')?.queueTimeoutMs, 250);
  t.equal(p.tenants.get('plain')?.queueTimeoutMs, 5000);
  t.equal(p.defaultTenant.queueTimeoutMs, 5000);
  const forever = budgetPolicy(config({ query_wait_timeout: 0 }), 5).policy;
  t.equal(forever.defaultTenant.queueTimeoutMs, 0, 'query_wait_timeout 0: no timeout');
});

t.test('budgetPolicy: adaptive_limit and fifo mode come through', async (t) => {
  const bp = budgetPolicy(config({ scheduler: { mode: 'fifo', adaptive_limit: true, adaptive_min_slots: 3 } }), 5);
  t.equal(bp.mode, 'fifo');
  t.same(bp.adaptive, { min: 3 });
});

t.test('budgetPolicy scales the headroom to the slots it is given', async (t) => {
  const c = config({ scheduler: { headroom_min: 1, headroom_max: 2 } });
  t.same(budgetPolicy(c, 40).policy.headroom, { min: 1, max: 2 });
  t.same(budgetPolicy(c, 4).policy.headroom, { min: 1, max: 1 });
  t.same(budgetPolicy(c, 1).policy.headroom, { min: 0, max: 0 });
  t.equal(budgetPolicy(c, 40).policy.slots, 40);
});

t.test('the parser refuses what the scheduler would refuse at the first transaction', async (t) => {
  const refused = (settings: Record<string, unknown>): string[] => {
    try {
      config(settings);
    } catch (err) {
      return (err as { problems: string[] }).problems;
    }
    return [];
  };
  t.same(refused({ tenants: { a: { rate: { per_second: 1, burst: 0.5 } } } }), ['tenants.a.rate.burst: expected a burst >= 1, got 0.5']);
  t.same(refused({ scheduler: { default_cost: 0 } }), ['scheduler.default_cost: expected seconds > 0, got 0']);
  t.same(
    refused({ users: { bob: { pool_size: 2 } }, tenants: { acme: { reservation: 3 } } }),
    ["tenants: reservations add up to 3 slots, more than databases.app (users.bob.pool_size)'s budget of 2 minus headroom_min 0"],
    'without a shared budget every pool is a budget, and a user pool_size can make one smaller',
  );
  t.same(
    refused({ max_server_connections: 8, users: { bob: { pool_size: 2 } }, tenants: { acme: { reservation: 3 } } }),
    [],
    'with a shared budget the pool sizes do not matter',
  );
  const edge = config({
    default_pool_size: 4,
    tenants: { a: { reservation: 3, rate: { per_second: 0.5, burst: 1 } } },
    scheduler: { headroom_min: 1, headroom_max: 3 },
  });
  t.same(policyProblems(budgetPolicy(edge, 4).policy), [], 'the tightest accepted config is a valid policy');
});

t.test('under the default settings the learned long class is elastic and, alone, grows to every slot of the budget', async (t) => {
  const bp = budgetPolicy(config({ max_server_connections: 20 }), 20);
  t.equal(bp.policy.classes.get('long')?.elastic, true);
  const clock = new FakeClock(0);
  const b = new Budget('app', bp, clock);
  t.ok(b.adaptive, 'a budget gets an adaptive limit by default');
  // Learned-long work alone, 40 clients of it: no short work, so no headroom, and no latency-sensitive samples.
  const grants = [];
  // The queue holds its items opaquely; these never reach a pool.
  for (let i = 0; i < 40; i++) b.queue.enqueue({} as Waiter, 'hog', 'long');
  for (let ms = 0; ms < 5000; ms += 100) {
    for (let g = b.queue.next(); g; g = b.queue.next()) grants.push(g);
    // Five elastic statements per window, as fast as their baseline: the server keeps up.
    for (let i = 0; i < 5; i++) b.adaptive!.updateElastic('SELECT count(*) FROM generate_series(?, ?)', 100);
    clock.advance(100);
  }
  t.equal(b.queue.held, 20, 'the whole budget runs it (not 20 minus headroom)');
  const state = b.adaptive!.state();
  t.equal(state.elasticSlots, 20);
  t.equal(state.ownLimit, 20, 'its own latency did not inflate');
  t.equal(state.elasticInflation, 1);
  t.equal(state.latencyMs, null, 'no latency-sensitive window judged yet');
  t.equal(b.queue.snapshot().headroomRequired, 0);
});
