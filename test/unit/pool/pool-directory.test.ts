// Tests PoolDirectory: one pool per (database, server user), SCRAM keys lent by the first client, stats per database, and reload reconciliation.
import t from 'tap';
import { FakeClock } from '../../helpers/fake-clock.js';
import { parseConfig } from '../../../lib/config/schema.js';
import type { SluiceConfig } from '../../../lib/config/types.js';
import type { PoolEvents } from '../../../lib/pool/pool.js';
import { PoolDirectory } from '../../../lib/pool/pool-directory.js';

const events: PoolEvents = { idle: () => undefined, loginFailed: () => undefined, launched: () => undefined };

function config(databases: Record<string, unknown>, extra: Record<string, unknown> = {}): SluiceConfig {
  return parseConfig({ auth_type: 'trust', databases, ...extra }, { baseDir: '/' });
}

const keys = { clientKey: Buffer.alloc(32, 1), serverKey: Buffer.alloc(32, 2) };

t.test('one pool per database and server user; a forced server user shares it', async (t) => {
  const c = config({ app: { host: 'a' }, shared: { host: 'a', user: 'svc', password: 'pw' } });
  const dir = new PoolDirectory(new FakeClock(), events);
  const alice = dir.poolFor(c, c.databases.get('app')!, 'alice');
  t.equal(dir.poolFor(c, c.databases.get('app')!, 'alice'), alice, 'found again');
  t.not(dir.poolFor(c, c.databases.get('app')!, 'bob'), alice, 'another user, another pool');
  const s1 = dir.poolFor(c, c.databases.get('shared')!, 'alice');
  t.equal(dir.poolFor(c, c.databases.get('shared')!, 'bob'), s1, 'database user= maps every client to one pool');
  t.equal(s1.name, 'shared/svc');
  t.same([...dir.live.keys()].sort(), ['app\0alice', 'app\0bob', 'shared\0svc']);
  t.equal(alice.stats, dir.statsOf('app'), 'SHOW STATS counters are per database');
  t.equal(dir.poolFor(c, c.databases.get('app')!, 'bob').stats, alice.stats);
  t.equal(dir.statsOf('nope'), undefined);
});

t.test('the first SCRAM client lends the pool its keys, once', async (t) => {
  const c = config({ app: { host: 'a' } });
  const dir = new PoolDirectory(new FakeClock(), events);
  const p = dir.poolFor(c, c.databases.get('app')!, 'alice');
  t.equal(p.settings.target.scramKeys, undefined);
  dir.poolFor(c, c.databases.get('app')!, 'alice', keys);
  t.equal(p.settings.target.scramKeys, keys);
  const other = { clientKey: Buffer.alloc(32, 3), serverKey: Buffer.alloc(32, 4) };
  dir.poolFor(c, c.databases.get('app')!, 'alice', other);
  t.equal(p.settings.target.scramKeys, keys, 'kept');
});

t.test('reconcile keeps unchanged pools, replaces moved ones with a successor, and returns removed databases', async (t) => {
  const before = config({ keep: { host: 'a' }, move: { host: 'a' }, gone: { host: 'a' } }, { default_pool_size: 5 });
  const dir = new PoolDirectory(new FakeClock(), events);
  const keep = dir.poolFor(before, before.databases.get('keep')!, 'alice');
  const move = dir.poolFor(before, before.databases.get('move')!, 'alice');
  const gone = dir.poolFor(before, before.databases.get('gone')!, 'alice');
  const after = config({ keep: { host: 'a' }, move: { host: 'b' } }, { default_pool_size: 7 });
  const removed = dir.reconcile(after);
  t.same(removed, [gone]);
  t.equal(gone.retired, true);
  t.equal(dir.live.get('keep\0alice'), keep, 'same server: the pool stays');
  t.equal(keep.settings.size, 7, 'with the new settings');
  t.equal(keep.retired, false);
  t.equal(move.retired, true);
  t.ok(move.successor, 'clients follow a successor');
  t.equal(move.successor!.settings.target.host, 'b');
  t.equal(dir.live.get('move\0alice'), move.successor);
  t.same([...dir.all()].length, 2, 'empty retired pools are not kept');
});
