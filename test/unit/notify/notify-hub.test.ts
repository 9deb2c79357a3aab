// Tests for the notify hub: one listener per pool name, subscriptions routed by pool, stats for observability, and shutdown.
import t from 'tap';
import { NotifyHub, type ListenTarget } from '../../../lib/notify/notify-hub.js';
import { FakeClock } from '../../helpers/fake-clock.js';
import { silentLogger } from '../../../lib/log.js';
import { startFakeBackend } from '../../helpers/fake-backend.js';

t.test('one listener connection per pool, each with its own channels; empty listeners are forgotten', async (t) => {
  const fake = await startFakeBackend(t, { kind: 'ok' });
  const hub = new NotifyHub(new FakeClock(), silentLogger());
  t.teardown(() => hub.close());
  const pool = (name: string): ListenTarget => ({
    name,
    settings: { target: { host: '127.0.0.1', port: fake.port, dbname: 'app', user: name, sslmode: 'disable', connectTimeoutMs: 2000 } },
  });
  const sub = { notification: () => undefined };
  const sub2 = { notification: () => undefined };
  const subscribe = (p: ListenTarget, ch: string, s = sub) => new Promise((r) => hub.subscribe(p, ch, s, r));
  t.equal(await subscribe(pool('app/a'), 'x'), null);
  t.equal(await subscribe(pool('app/a'), 'y'), null);
  t.equal(await subscribe(pool('app/b'), 'x', sub2), null);
  t.equal(fake.logins, 2, 'two pools, two listener connections');
  const stats = hub.stats().sort((p, q) => p.pool.localeCompare(q.pool));
  t.match(stats, [
    { pool: 'app/a', connected: true, channels: 2, listening: 2, gaps: 0 },
    { pool: 'app/b', channels: 1 },
  ]);
  t.ok(stats[0].pid > 0);
  hub.unsubscribe('app/b', 'x', sub2);
  t.same(
    hub.stats().map((s) => s.pool),
    ['app/a'],
    'the empty listener is gone',
  );
  hub.close();
  t.same(hub.stats(), []);
  t.match(await subscribe(pool('app/a'), 'z'), /shutting down/, 'no new subscriptions after close');
});
