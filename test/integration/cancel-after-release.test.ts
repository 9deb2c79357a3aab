// A client's CancelRequest that reaches Postgres late, after its query ended and its server connection went to another client, must not cancel that other client's query (found by the protocol fuzzer).
import net from 'node:net';
import t from 'tap';
import { startTestPostgres } from '../helpers/postgres.js';
import { connectKeyed, type KeyedClient } from '../helpers/keyed-client.js';
import { sendCancelRequest } from '../helpers/raw-client.js';
import { startSluice } from '../helpers/sluice.js';

const CANCEL_CODE = 80877102;
/** How long the proxy holds a CancelRequest before passing it on: longer than the first client's query. */
const CANCEL_DELAY_MS = 400;

const realPg = await startTestPostgres(t);

/**
 * A TCP proxy to Postgres that forwards everything at once, except that it holds each CancelRequest connection a
 * while. It is transparent about closing: the sender's half-close is passed on, and the connection closes when
 * Postgres closes it, which is how a pooler learns that Postgres has taken a cancel.
 */
async function slowCancelProxy(): Promise<{ port: number; cancels: () => number }> {
  let cancels = 0;
  const server = net.createServer({ allowHalfOpen: true }, (client) => {
    client.once('data', (first) => {
      client.pause();
      const isCancel = first.length === 16 && first.readInt32BE(0) === 16 && first.readInt32BE(4) === CANCEL_CODE;
      if (isCancel) cancels++;
      setTimeout(
        () => {
          const upstream = net.connect({ host: realPg.host, port: realPg.port }, () => {
            upstream.write(first);
            client.pipe(upstream).pipe(client);
            client.resume();
          });
          upstream.on('error', () => client.destroy());
          client.on('error', () => upstream.destroy());
          client.on('close', () => upstream.destroy());
        },
        isCancel ? CANCEL_DELAY_MS : 0,
      );
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return { port: (server.address() as net.AddressInfo).port, cancels: () => cancels };
}

const proxy = await slowCancelProxy();
// One server connection: the second client gets the one the first client's query ran on.
const sluice = await startSluice(t, realPg, {
  default_pool_size: 1,
  databases: { app: { host: '127.0.0.1', port: proxy.port, dbname: 'app' } },
});

async function connect(): Promise<KeyedClient> {
  const c = await connectKeyed(sluice.options('alice'));
  t.teardown(() => c.end().catch(() => undefined));
  return c;
}

async function running(sql: string): Promise<void> {
  for (;;) {
    const rows = await realPg.query("SELECT 1 FROM pg_stat_activity WHERE query = $1 AND state = 'active'", [sql]);
    if (rows.length > 0) return;
    await new Promise((r) => setTimeout(r, 10));
  }
}

t.test("a late cancel of one client's finished query leaves the next client's query alone", async (t) => {
  const first = await connect();
  const second = await connect();
  const short = 'SELECT pg_sleep(0.1)';
  const firstQuery = first.query(short).then(
    () => 'done',
    (err: { code?: string }) => err.code ?? 'error',
  );
  await running(short);
  await sendCancelRequest(sluice.port, first.processID, first.secretKey);
  t.equal(await firstQuery, 'done', "the first client's query ended before its cancel reached Postgres");
  const long = await second.query('SELECT pg_sleep(1.5), 42 AS answer').then(
    (r) => r.rows[0].answer,
    (err: { code?: string }) => err.code,
  );
  t.equal(long, 42, `the second client is answered, not canceled (got ${long})`);
  t.equal(proxy.cancels(), 1, 'the cancel did go to Postgres');
});
