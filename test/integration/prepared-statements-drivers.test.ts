// Proves real drivers' named prepared statements work in transaction mode with many clients over few server connections: pgbench -M prepared, postgres.js (prepare: true) with evictions, node-postgres named queries, counted in SHOW STATS.
import path from 'node:path';
import t, { type Test } from 'tap';
import pgLib from 'pg';
import postgres from 'postgres';
import { startTestPostgres, APP_DB } from '../helpers/postgres.js';
import { startSluice, type TestSluice } from '../helpers/sluice.js';
import { run } from '../helpers/run.js';
import { consoleClient } from '../helpers/console.js';

const pg = await startTestPostgres(t);
await pg.pgbenchInit(1);

function pool(sluice: TestSluice, user: string) {
  const p = sluice.pooler.pools.get(`${APP_DB}\0${user}`);
  if (!p) throw new Error(`no pool for ${user} yet`);
  return p;
}

function number(out: string, label: string): number {
  const m = new RegExp(`^${label}: (\\d+)`, 'm').exec(out);
  if (!m) throw new Error(`pgbench output has no "${label}":\n${out}`);
  return Number(m[1]);
}

async function pgbench(t: Test, sluice: TestSluice, args: string[]) {
  const r = await run('pgbench', ['-n', '-j', '2', '-M', 'prepared', ...args, APP_DB], { env: sluice.env('alice'), timeoutMs: 60_000 });
  t.match(r.out, /query mode: prepared/);
  return r;
}

// pgbench (15, at least) prepares each statement with a blocking call that stalls every client of its thread; with
// BEGIN ... END scripts and more clients than server connections, clients holding a connection inside a
// transaction then wait on the stalled thread (with any transaction pooler). Autocommit scripts avoid that.
const WRITE_SCRIPT = [
  '\\set aid random(1, 100000 * :scale)',
  '\\set delta random(-5000, 5000)',
  'UPDATE pgbench_accounts SET abalance = abalance + :delta WHERE aid = :aid;',
  'SELECT abalance FROM pgbench_accounts WHERE aid = :aid;',
  'INSERT INTO pgbench_history (tid, bid, aid, delta, mtime) VALUES (1, 1, :aid, :delta, CURRENT_TIMESTAMP);',
].join('\n');

t.test('pgbench -M prepared, 50 clients over a pool of 5: no failed transaction', async (t) => {
  const sluice = await startSluice(t, pg, { default_pool_size: 5 });
  const script = path.join(t.testdir({ 'write.sql': `${WRITE_SCRIPT}\n` }), 'write.sql');
  for (const [label, args] of [
    ['select-only', ['-S']],
    ['writes', ['-f', script]],
  ] as const) {
    const r = await pgbench(t, sluice, [...args, '-c', '50', '-T', '3']);
    t.equal(r.code, 0, `${label}: exit code (stderr: ${r.err.slice(-1500)})`);
    t.equal(number(r.out, 'number of failed transactions'), 0, `${label}: number of failed transactions: 0`);
    t.ok(number(r.out, 'number of transactions actually processed') > 0, `${label}: transactions processed`);
  }
  const stats = pool(sluice, 'alice').preparedStats;
  t.ok(
    stats.misses > 0 && stats.hits > 10 * stats.misses,
    `statements were prepared by Sluice and reused across clients (${JSON.stringify(stats)})`,
  );
  t.ok(pool(sluice, 'alice').total <= 5, 'never more than 5 server connections');
});

t.test('postgres.js with prepare: true, more statements than max_prepared_statements, evictions on every connection', async (t) => {
  const sluice = await startSluice(t, pg, { default_pool_size: 3, max_prepared_statements: 5 });
  const clients = Array.from({ length: 6 }, () => postgres({ ...sluice.options('alice'), max: 4 }));
  t.teardown(() => Promise.all(clients.map((c) => c.end())));
  // 12 distinct statements; each is keyed by its text, so the value checks catch a statement mixed up with another.
  const shapes = Array.from({ length: 12 }, (_, k) => k);
  const runOne = async (sql: postgres.Sql, i: number) => {
    const k = shapes[i % shapes.length];
    const [row] = await sql.unsafe(`select $1::int * ${k + 1} as v, ${k}::int as k, $2::text as tag`, [i, `t${i}`], { prepare: true });
    return row.v === i * (k + 1) && row.k === k && row.tag === `t${i}`;
  };
  const results = await Promise.all(clients.flatMap((sql, c) => Array.from({ length: 120 }, (_, j) => runOne(sql, c * 1000 + j))));
  t.equal(results.filter((ok) => !ok).length, 0, `all ${results.length} results correct`);
  const stats = pool(sluice, 'alice').preparedStats;
  t.ok(stats.evictions > 0, `evictions happened (${JSON.stringify(stats)})`);
  t.ok(stats.hits > 0, 'and statements were reused');
  const tagged = await clients[0]`select ${'x'}::text as a, ${2}::int as b`;
  t.same([...tagged], [{ a: 'x', b: 2 }], 'the tagged-template path, prepared by default, works too');
});

t.test('node-postgres named queries across 20 clients and 2 server connections; SHOW STATS counts the parses and binds', async (t) => {
  const sluice = await startSluice(t, pg, { default_pool_size: 2, admin_users: ['alice'] });
  const clients = await Promise.all(
    Array.from({ length: 20 }, async () => {
      const c = new pgLib.Client(sluice.options('bob'));
      await c.connect();
      return c;
    }),
  );
  t.teardown(() => Promise.all(clients.map((c) => c.end())));
  const queries = [
    { name: 'account', text: 'select aid, bid from pgbench_accounts where aid = $1' },
    { name: 'double', text: 'select $1::int * 2 as v' },
    { name: 'branches', text: 'select count(*)::int as n from pgbench_branches' },
  ];
  let wrong = 0;
  await Promise.all(
    clients.map(async (c, i) => {
      for (let round = 0; round < 10; round++) {
        const a = await c.query({ ...queries[0], values: [i + 1] });
        const b = await c.query({ ...queries[1], values: [i * round] });
        const n = await c.query(queries[2]);
        if (a.rows[0].aid !== i + 1 || a.rows[0].bid !== 1 || b.rows[0].v !== 2 * i * round || n.rows[0].n !== 1) wrong++;
      }
    }),
  );
  t.equal(wrong, 0, 'every result correct');
  t.ok(pool(sluice, 'bob').total <= 2);
  const admin = await consoleClient(t, sluice);
  const row = (await admin.query('SHOW STATS')).rows.find((r) => r.database === APP_DB);
  t.equal(Number(row.total_client_parse_count), 20 * queries.length, 'each client parsed each statement once');
  const serverParses = Number(row.total_server_parse_count);
  t.ok(serverParses >= 2 && serverParses < 20 * queries.length, `statements reused across clients: ${serverParses} server parses`);
  t.equal(Number(row.total_bind_count), 20 * 10 * queries.length, 'one Bind per execution');
  const bad = { name: 'typo', text: 'selec 1' };
  for (const attempt of [1, 2]) {
    await t.rejects(clients[1].query(bad), { code: '42601' }, `a failed Parse leaves no name behind (attempt ${attempt})`);
  }
  const inTx = clients[0];
  await inTx.query('begin');
  t.same((await inTx.query({ ...queries[1], values: [21] })).rows, [{ v: 42 }], 'inside an explicit transaction too');
  await inTx.query('commit');
});
