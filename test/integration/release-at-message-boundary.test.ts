// A server connection goes back to its pool only between messages of both streams: COPY data that outlives the server's error stays with that server.
import t from 'tap';
import { startTestPostgres } from '../helpers/postgres.js';
import { startSluice } from '../helpers/sluice.js';
import { psql, type RunResult } from '../helpers/run.js';
import { cstr, header, message } from '../helpers/bytes.js';
import { errorFields, firstColumn, loginMd5, type RawClient } from '../helpers/raw-client.js';

const realPg = await startTestPostgres(t);
await realPg.query('create table boundary_copy (n int)');
await realPg.query('grant all on boundary_copy to public');
// bob's pool has one server connection, so whoever comes next gets exactly the connection the COPY used.
const sluice = await startSluice(t, realPg, { default_pool_size: 1 });

/** bob's one backend, as Postgres sees it. */
async function bobBackends(): Promise<number[]> {
  const rows = await realPg.query("select pid from pg_stat_activity where usename = 'bob' and backend_type = 'client backend'");
  return rows.map((r) => r.pid as number);
}

/** Resolves once a session other than the one with this cancel pid is waiting for or using a server (its query arrived). */
async function otherSessionBusy(pid: number): Promise<void> {
  for (let i = 0; i < 500; i++) {
    if ([...sluice.pooler.sessions.values()].some((s) => s.ident.pid !== pid && s.state !== 'idle')) return;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error('the other client never asked for a server');
}

/** COPY FROM STDIN, then a bad row and the first bytes of a 1,000-byte CopyData in one write; returns after the server's error. */
async function copyFailsMidMessage(raw: RawClient): Promise<Buffer> {
  raw.send(message('Q', cstr('copy boundary_copy from stdin')));
  const start = await raw.readUntil('G');
  t.equal(start.at(-1)?.type, 'G', 'the server asks for COPY data');
  const body = Buffer.alloc(1000, 0xff);
  raw.send(message('d', 'not a number\n'), header('d', 4 + body.length), body.subarray(0, 10));
  const [err, ready] = [await raw.readMessage(), await raw.readMessage()];
  t.equal(err.type, 'E', 'the bad row fails the COPY');
  t.equal(errorFields(err).code, '22P02');
  t.equal(ready.type, 'Z', "the server's ReadyForQuery arrives while the client is inside a CopyData");
  return body.subarray(10);
}

t.test('the rest of a CopyData after the server ended the COPY goes to that server, not the next client', async (t) => {
  const { client: raw, pid } = await loginMd5(sluice.port);
  t.teardown(() => raw.destroy());
  const rest = await copyFailsMidMessage(raw);

  // Another client of the same one-connection pool asks now: it must wait for a clean connection.
  const other = await sluice.connect('bob');
  const answer = other.query('select $1::text as v', ['mine-42']);
  await otherSessionBusy(pid);
  // Bytes that would read as a negative message length if they reached a new server as a fresh message.
  raw.send(rest, message('c'));

  const { rows } = await answer;
  t.same(rows, [{ v: 'mine-42' }], 'the waiting client gets its own answer');
  t.same(firstColumn(await raw.query("select 'after'")), ['after'], 'the COPY client goes on normally');
  t.same(firstColumn(await raw.query('select count(*) from boundary_copy')), ['0'], 'nothing of the failed COPY was stored');
});

t.test('a client that leaves mid-CopyData after the server ended the COPY costs its server connection', async (t) => {
  const before = await bobBackends();
  const { client: raw } = await loginMd5(sluice.port);
  await copyFailsMidMessage(raw);
  raw.destroy();
  await raw.closed;

  const next = await sluice.connect('bob');
  const { rows } = await next.query('select $1::text as v, pg_backend_pid() as pid', ['next-7']);
  t.equal(rows[0].v, 'next-7', 'the next client is served correctly');
  t.notOk(before.includes(rows[0].pid), 'on a new backend: the one waiting for the rest of a CopyData was closed');
});

t.test('a large COPY with a bad row early, while another client queries the same connection, repeatedly', async (t) => {
  const rows: string[] = [];
  for (let i = 0; i < 200_000; i++) rows.push(i === 3 ? 'x' : String(i));
  const input = `${rows.join('\n')}\n`;
  const other = await sluice.connect('bob');
  let stop = false;
  let answered = 0;
  const checker = (async () => {
    while (!stop) {
      const token = `tok-${answered}`;
      const r = await other.query('select $1::text as v', [token]);
      if (r.rows[0].v !== token) throw new Error(`got ${r.rows[0].v} for ${token}`);
      answered++;
    }
  })();
  const results: RunResult[] = [];
  for (let round = 0; round < 5; round++) {
    results.push(await psql(['-c', '\\copy boundary_copy from stdin'], sluice.env('bob'), input));
  }
  stop = true;
  await checker;
  for (const r of results) {
    t.not(r.code, 0, 'psql reports the failed COPY');
    t.match(r.err, /invalid input syntax for type integer: "x"/);
  }
  t.ok(answered > 0, 'the other client was answered throughout, each time with its own value');
  t.same(await realPg.query('select count(*)::int as n from boundary_copy'), [{ n: 0 }]);
});
