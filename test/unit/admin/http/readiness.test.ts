// Tests readiness: live connections count as proof, otherwise a TCP probe decides, with the reason when it fails.
import net from 'node:net';
import t from 'tap';
import { checkReadiness, probe, REACHABLE } from '../../../../lib/admin/http/readiness.js';
import type { TeardownHost } from '../../../helpers/postgres.js';

async function listening(t: TeardownHost): Promise<number> {
  const s = net.createServer((c) => c.destroy());
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  t.teardown(() => new Promise((r) => s.close(r)));
  return (s.address() as net.AddressInfo).port;
}

async function closedPort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise((r) => s.close(r));
  return port;
}

t.test('a probe tells a listening port from a closed one', async (t) => {
  t.equal(await probe('127.0.0.1', await listening(t), 1000), REACHABLE);
  t.match(await probe('127.0.0.1', await closedPort(), 1000), /^cannot connect to 127\.0\.0\.1:\d+: ECONNREFUSED$/);
});

t.test('ready only when listening and every database answers; connected databases are not probed', async (t) => {
  const up = await listening(t);
  const down = await closedPort();
  const dbs = [
    { name: 'a', host: '127.0.0.1', port: up },
    { name: 'b', host: '127.0.0.1', port: down },
  ];
  const r = await checkReadiness({ listening: true, databases: dbs, connected: new Set(), timeoutMs: 1000 });
  t.equal(r.ready, false);
  t.equal(r.databases.a, REACHABLE);
  t.match(r.databases.b, /ECONNREFUSED/);
  const viaPool = await checkReadiness({ listening: true, databases: dbs, connected: new Set(['b']), timeoutMs: 1000 });
  t.same(viaPool, { ready: true, listening: true, databases: { a: REACHABLE, b: REACHABLE } }, 'b has a live server connection');
  const stopped = await checkReadiness({ listening: false, databases: dbs.slice(0, 1), connected: new Set(), timeoutMs: 1000 });
  t.equal(stopped.ready, false, 'not listening (shutting down): not ready');
});
