// Tests ClientDirectory: cancel-key lookup, unique keys, per-tenant client counts for max_clients, and the idle timeouts.
import t from 'tap';
import { parseConfig } from '../../../lib/config/schema.js';
import type { ClientSession } from '../../../lib/session/client-session.js';
import { ClientDirectory } from '../../../lib/session/client-directory.js';
import type { PoolerError } from '../../../lib/errors.js';

interface FakeSession {
  ident: { pid: number; secret: number; tenant: string };
  state: 'idle' | 'waiting' | 'active';
  lastActivity: number;
  idleInTxSince: number;
  querySince: number;
  transactionSince: number;
  errors: string[];
  sendError(e: PoolerError): void;
}

function session(dir: ClientDirectory, tenant: string, over: Partial<FakeSession> = {}): FakeSession {
  const s: FakeSession = {
    ident: { ...dir.newCancelKey(), tenant },
    state: 'idle',
    lastActivity: 0,
    idleInTxSince: 0,
    querySince: -1,
    transactionSince: -1,
    errors: [],
    sendError(e) {
      this.errors.push(e.code);
    },
    ...over,
  };
  return s;
}
const as = (s: FakeSession): ClientSession => s as unknown as ClientSession;
const noCancel = (): void => {
  throw new Error('nothing should be canceled here');
};

t.test('admit counts clients per tenant up to max; remove gives the count back', async (t) => {
  const dir = new ClientDirectory();
  t.ok(dir.admit('acme', 2));
  t.ok(dir.admit('acme', 2));
  t.notOk(dir.admit('acme', 2), 'the third is refused');
  t.ok(dir.admit('other', 2), 'tenants count apart');
  const a = session(dir, 'acme');
  dir.add(as(a));
  dir.remove(a.ident);
  t.ok(dir.admit('acme', 2), 'room again after a client left');
});

t.test('sessions are found by their cancel key only', async (t) => {
  const dir = new ClientDirectory();
  const a = session(dir, 'x');
  const b = session(dir, 'x');
  dir.add(as(a));
  dir.add(as(b));
  t.equal(dir.size, 2);
  t.equal(dir.find(a.ident.pid, a.ident.secret), as(a));
  t.equal(dir.find(a.ident.pid, b.ident.secret), b.ident.pid === a.ident.pid ? as(b) : undefined, 'a wrong secret finds nothing');
  dir.remove(a.ident);
  t.equal(dir.find(a.ident.pid, a.ident.secret), undefined);
  const keys = new Set<string>();
  for (let i = 0; i < 1000; i++) {
    const k = dir.newCancelKey();
    t.ok(k.pid >= 1 && k.secret >= 0);
    keys.add(`${k.pid}:${k.secret}`);
  }
  t.equal(keys.size, 1000, 'keys do not repeat');
});

t.test('sweepTimeouts ends idle clients and idle-in-transaction ones, and leaves the rest', async (t) => {
  const config = (o: Record<string, unknown>) =>
    parseConfig({ auth_type: 'trust', databases: { app: { host: '127.0.0.1' } }, ...o }, { baseDir: '/' });
  const dir = new ClientDirectory();
  const idle = session(dir, 'x', { lastActivity: 0 });
  const fresh = session(dir, 'x', { lastActivity: 9_000 });
  const inTx = session(dir, 'x', { state: 'active', idleInTxSince: 1_000 });
  const busy = session(dir, 'x', { state: 'active', lastActivity: 0 });
  for (const s of [idle, fresh, inTx, busy]) dir.add(as(s));
  dir.sweepTimeouts(config({}), 10_000, noCancel);
  t.same(
    [idle, fresh, inTx, busy].map((s) => s.errors.length),
    [0, 0, 0, 0],
    'both timeouts off by default',
  );
  dir.sweepTimeouts(config({ client_idle_timeout: 5, idle_transaction_timeout: 5 }), 10_000, noCancel);
  t.same(idle.errors, ['SLUICE_CLIENT_IDLE_TIMEOUT']);
  t.same(inTx.errors, ['SLUICE_IDLE_TRANSACTION_TIMEOUT']);
  t.same(fresh.errors, [], 'active recently');
  t.same(busy.errors, [], 'running a query is not idle');
});

t.test('query_timeout cancels a running query and ends its client; transaction_timeout ends a long transaction', async (t) => {
  const config = parseConfig(
    { auth_type: 'trust', databases: { app: { host: '127.0.0.1' } }, query_timeout: 5, transaction_timeout: 8 },
    { baseDir: '/' },
  );
  const dir = new ClientDirectory();
  const longQuery = session(dir, 'x', { state: 'active', querySince: 4_000, transactionSince: 4_000 });
  const shortQuery = session(dir, 'x', { state: 'active', querySince: 9_000, transactionSince: 9_000 });
  const longTxIdle = session(dir, 'x', { state: 'active', transactionSince: 1_000, idleInTxSince: 9_500 });
  const longTxBusy = session(dir, 'x', { state: 'active', querySince: 7_000, transactionSince: 1_000 });
  const none = session(dir, 'x', { state: 'active', querySince: -1, transactionSince: -1 });
  for (const s of [longQuery, shortQuery, longTxIdle, longTxBusy, none]) dir.add(as(s));
  const canceled: unknown[] = [];
  dir.sweepTimeouts(config, 10_000, (s) => canceled.push(s));
  t.same(longQuery.errors, ['SLUICE_QUERY_TIMEOUT']);
  t.same(longTxIdle.errors, ['SLUICE_TRANSACTION_TIMEOUT']);
  t.same(longTxBusy.errors, ['SLUICE_TRANSACTION_TIMEOUT']);
  t.same([shortQuery.errors, none.errors], [[], []]);
  t.same(canceled, [as(longQuery), as(longTxBusy)], 'only queries still running are canceled on the server');
});
