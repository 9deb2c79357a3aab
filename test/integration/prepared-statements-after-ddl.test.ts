// Proves that after DDL a client that was shown a named statement's columns gets rows of those columns or 0A000, never rows of another shape: on the same server connection and on one where the statement is prepared afresh.
import { execFile } from 'node:child_process';
import t, { type Test } from 'tap';
import pgLib from 'pg';
import postgres from 'postgres';
import { startTestPostgres, APP_DB } from '../helpers/postgres.js';
import { startSluice, type TestSluice } from '../helpers/sluice.js';
import {
  WireClient,
  bind,
  dataRow,
  describePortal,
  describeStatement,
  errorFields,
  execute,
  parse,
  queryMsg,
  syncMsg,
  typesOf,
  type BackendMsg,
} from '../helpers/wire.js';

const pg = await startTestPostgres(t);

/** The three changes the issue names, each under SELECT *: the rows before, the DDL, the rows after (as text). */
const CHANGES = [
  { what: 'ADD COLUMN', ddl: (tb: string) => `alter table ${tb} add column extra text default 'x'`, after: [['1', '10', 'x']] },
  { what: 'DROP COLUMN', ddl: (tb: string) => `alter table ${tb} drop column a`, after: [['1']] },
  {
    what: 'ALTER COLUMN TYPE',
    ddl: (tb: string) => `alter table ${tb} alter column a type float8; update ${tb} set a = 1.5`,
    after: [['1', '1.5']],
  },
];

let tables = 0;
/** A fresh table (id int, a int8) with one row (1, 10), usable by alice. */
async function table(): Promise<string> {
  const name = `ddl_${++tables}`;
  await pg.query(`create table ${name} (id int, a int8)`);
  await pg.query(`insert into ${name} values (1, 10)`);
  await pg.query(`grant all on ${name} to alice`);
  return name;
}

async function wire(t: Test, sluice: TestSluice): Promise<WireClient> {
  const c = await WireClient.connect(sluice.options('alice'));
  t.teardown(() => c.close());
  return c;
}

function rows(msgs: BackendMsg[]): (string | null)[][] {
  return msgs.filter((m) => m.type === 'D').map((m) => dataRow(m));
}

/** Ends every server connection Sluice holds for alice, and waits until its pool has noticed. */
async function dropServerConnections(sluice: TestSluice): Promise<void> {
  await pg.query(`select pg_terminate_backend(pid) from pg_stat_activity where usename = 'alice' and datname = '${APP_DB}'`);
  const pool = sluice.pooler.pools.get(`${APP_DB}\0alice`);
  for (let i = 0; i < 200 && (pool?.total ?? 0) > 0; i++) await new Promise((r) => setTimeout(r, 10));
}

/** Prepares `s` and describes it (as asyncpg and postgres.js do), then runs it once. */
async function prepareDescribed(c: WireClient, tb: string): Promise<void> {
  c.send(parse(`select * from ${tb}`, 's'), describeStatement('s'), syncMsg());
  await c.untilReady();
  c.send(bind([], { statement: 's' }), execute(), syncMsg());
  await c.untilReady();
}

for (const where of ['the same server connection', 'a server connection where it is prepared afresh']) {
  const afresh = where.startsWith('a server');
  for (const change of CHANGES) {
    t.test(`${change.what}, on ${where}: a client that described the statement gets 0A000, every time`, async (t) => {
      const tb = await table();
      const sluice = await startSluice(t, pg, { default_pool_size: 1 });
      const c = await wire(t, sluice);
      await prepareDescribed(c, tb);
      await pg.query(change.ddl(tb));
      if (afresh) await dropServerConnections(sluice);
      for (const time of ['first', 'second']) {
        c.send(bind([], { statement: 's' }), execute(), syncMsg());
        const r = await c.untilReady();
        t.equal(typesOf(r), 'EZ', `${time} time: no rows of the new shape`);
        t.equal(errorFields(r[0]).C, '0A000', 'cached plan must not change result type');
        t.equal(errorFields(r[0]).R, 'RevalidateCachedQuery', 'the routine drivers look for');
      }
      c.send(parse(`select * from ${tb}`, 's2'), describeStatement('s2'), bind([], { statement: 's2' }), execute(), syncMsg());
      const again = await c.untilReady();
      t.equal(typesOf(again), '1tT2DCZ', 'prepared again under a new name, it works');
      t.same(rows(again), change.after);
    });

    t.test(`${change.what}, on ${where}: a client that describes the portal it binds gets the new columns`, async (t) => {
      const tb = await table();
      const sluice = await startSluice(t, pg, { default_pool_size: 1 });
      const c = await wire(t, sluice);
      c.send(parse(`select * from ${tb}`, 's'), bind([], { statement: 's' }), describePortal(), execute(), syncMsg());
      t.same(rows(await c.untilReady()), [['1', '10']]);
      await pg.query(change.ddl(tb));
      if (afresh) await dropServerConnections(sluice);
      c.send(bind([], { statement: 's' }), describePortal(), execute(), syncMsg());
      const r = await c.untilReady();
      t.equal(typesOf(r), '2TDCZ', 'the new RowDescription, then its rows');
      t.equal(r[1].body.readInt16BE(0), change.after[0].length);
      t.same(rows(r), change.after);
    });
  }
}

t.test('a statement prepared by another client after the change serves that client; the older client gets 0A000', async (t) => {
  const tb = await table();
  const sluice = await startSluice(t, pg, { default_pool_size: 1 });
  const old = await wire(t, sluice);
  await prepareDescribed(old, tb);
  await pg.query(CHANGES[0].ddl(tb));
  const late = await wire(t, sluice);
  late.send(parse(`select * from ${tb}`, 's'), describeStatement('s'), bind([], { statement: 's' }), execute(), syncMsg());
  const lr = await late.untilReady();
  t.equal(typesOf(lr), '1tT2DCZ', 'the later client is served the new columns, with no error');
  t.same(rows(lr), CHANGES[0].after);
  old.send(bind([], { statement: 's' }), execute(), syncMsg());
  const or = await old.untilReady();
  t.equal(typesOf(or), 'EZ', 'the same server copy does not serve the older client rows of another shape');
  t.equal(errorFields(or[0]).C, '0A000');
  late.send(bind([], { statement: 's' }), execute(), syncMsg());
  t.same(rows(await late.untilReady()), CHANGES[0].after, 'and the later client still works');
});

t.test('inside a transaction on the other server connection of a pool of two: checked as it is sent', async (t) => {
  const tb = await table();
  const sluice = await startSluice(t, pg, { default_pool_size: 2 });
  const c = await wire(t, sluice);
  await prepareDescribed(c, tb);
  const other = await wire(t, sluice);
  // The other client holds the connection c used, so c's transaction gets a new one.
  other.send(queryMsg('begin'));
  await other.untilReady();
  c.send(queryMsg('begin'));
  t.equal(typesOf(await c.untilReady()), 'CZ');
  c.send(bind([], { statement: 's' }), execute(), syncMsg());
  t.same(rows(await c.untilReady()), [['1', '10']], 'the same columns on the new connection: the rows');
  c.send(queryMsg('commit'));
  await c.untilReady();
  other.send(queryMsg('commit'));
  await other.untilReady();
  await pg.query(CHANGES[0].ddl(tb));
  // Both connections now hold a copy from before the change; c's next transaction finds one stale.
  c.send(queryMsg('begin'));
  await c.untilReady();
  c.send(bind([], { statement: 's' }), execute(), syncMsg());
  const r = await c.untilReady();
  t.equal(typesOf(r), 'EZ');
  t.equal(errorFields(r[0]).C, '0A000');
  t.equal(r[1].body.toString('latin1'), 'E', 'the transaction is aborted, as on one backend');
  c.send(queryMsg('rollback'));
  await c.untilReady();
  c.send(bind([], { statement: 's' }), execute(), syncMsg());
  t.equal(errorFields((await c.untilReady())[0]).C, '0A000', 'and after it, until the client prepares it again');
  t.equal(sluice.pooler.pools.get(`${APP_DB}\0alice`)?.total, 2, 'two server connections');
});

t.test('a copy prepared afresh whose columns are unchanged serves silently', async (t) => {
  const tb = await table();
  const sluice = await startSluice(t, pg, { default_pool_size: 1 });
  const c = await wire(t, sluice);
  await prepareDescribed(c, tb);
  await pg.query(`alter table ${tb} add column extra int`);
  await pg.query(`alter table ${tb} drop column extra`);
  await dropServerConnections(sluice);
  c.send(bind([], { statement: 's' }), execute(), syncMsg());
  const r = await c.untilReady();
  t.equal(typesOf(r), '2DCZ', 'no error: the columns are the ones the client was shown');
  t.same(rows(r), [['1', '10']]);
});

for (const change of CHANGES) {
  t.test(`postgres.js (caches descriptions), ${change.what}: the new rows, same connection and a fresh one`, async (t) => {
    const tb = await table();
    const sluice = await startSluice(t, pg, { default_pool_size: 2 });
    const sql = postgres({ ...sluice.options('alice'), max: 1 });
    t.teardown(() => sql.end());
    // Through postgres.js (text results): int8 stays a string, float8 becomes a number.
    const byId = async (): Promise<Record<string, unknown>[]> => [
      ...(await sql.unsafe(`select * from ${tb} where id = $1`, [1], { prepare: true })),
    ];
    t.strictSame(await byId(), [{ id: 1, a: '10' }]);
    await pg.query(change.ddl(tb));
    const expected = { 'ADD COLUMN': { id: 1, a: '10', extra: 'x' }, 'DROP COLUMN': { id: 1 }, 'ALTER COLUMN TYPE': { id: 1, a: 1.5 } }[
      change.what
    ];
    t.strictSame(await byId(), [expected], 'postgres.js re-prepares on 0A000, as it does against Postgres');
    await pg.query(`alter table ${tb} add column later int default 7`);
    await dropServerConnections(sluice);
    t.strictSame(await byId(), [{ ...expected, later: 7 }], 'prepared afresh on a new server connection');
  });
}

t.test('node-postgres named statements (a Describe with every Bind) follow every change, across connections', async (t) => {
  const tb = await table();
  const sluice = await startSluice(t, pg, { default_pool_size: 2 });
  const c = new pgLib.Client(sluice.options('alice'));
  await c.connect();
  t.teardown(() => c.end());
  const q = { name: 'by-id', text: `select * from ${tb} where id = $1`, values: [1] };
  t.same((await c.query(q)).rows, [{ id: 1, a: '10' }]);
  await pg.query(CHANGES[0].ddl(tb));
  t.same((await c.query(q)).rows, [{ id: 1, a: '10', extra: 'x' }]);
  await pg.query(CHANGES[2].ddl(tb));
  await dropServerConnections(sluice);
  t.same((await c.query(q)).rows, [{ id: 1, a: 1.5, extra: 'x' }]);
  await pg.query(CHANGES[1].ddl(tb));
  t.same((await c.query(q)).rows, [{ id: 1, extra: 'x' }]);
});

/**
 * asyncpg (Debian's, in /usr/bin/python3) caches each statement's columns and decodes rows in binary:
 * before the change, after it on the same server connection, and on a fresh one. Prints each row as JSON.
 */
const ASYNCPG = `
import asyncio, json, os, sys, asyncpg
async def main():
    c = await asyncpg.connect(os.environ['DSN'])
    q = 'select * from ' + os.environ['TB'] + ' where id = $1'
    print(json.dumps(dict(await c.fetchrow(q, 1))))
    sys.stdout.flush()
    for step in ('ddl', 'fresh'):
        sys.stdin.readline()
        print(json.dumps(dict(await c.fetchrow(q, 1))))
        sys.stdout.flush()
    await c.close()
asyncio.run(main())
`;

const ASYNCPG_ROWS: Record<string, Record<string, unknown>> = {
  'ADD COLUMN': { id: 1, a: 10, extra: 'x' },
  'DROP COLUMN': { id: 1 },
  'ALTER COLUMN TYPE': { id: 1, a: 1.5 },
};

for (const change of CHANGES) {
  t.test(
    `asyncpg (caches descriptions, binary rows), ${change.what}: the new rows, never bytes decoded with the old columns`,
    async (t) => {
      const tb = await table();
      const sluice = await startSluice(t, pg, { default_pool_size: 1 });
      const o = sluice.options('alice');
      const dsn = `postgresql://${o.user}:${encodeURIComponent(o.password)}@${o.host}:${o.port}/${o.database}`;
      const child = execFile('/usr/bin/python3', ['-c', ASYNCPG], { env: { ...process.env, DSN: dsn, TB: tb }, timeout: 30_000 });
      const lines: string[] = [];
      let stderr = '';
      let ended = false;
      let wake = (): void => undefined;
      child.stdout?.on('data', (d: Buffer) => {
        lines.push(
          ...d
            .toString()
            .split('\n')
            .filter((l) => l !== ''),
        );
        wake();
      });
      child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
      const exited = new Promise((resolve) => child.on('exit', resolve)).then(() => {
        ended = true;
        wake();
      });
      /** The n-th row printed, or what asyncpg raised instead. */
      const line = async (n: number): Promise<unknown> => {
        while (lines.length < n && !ended) await new Promise<void>((r) => (wake = r));
        return lines.length >= n ? JSON.parse(lines[n - 1]) : { raised: stderr.trim().split('\n').at(-1) };
      };
      t.same(await line(1), { id: 1, a: 10 });
      await pg.query(change.ddl(tb));
      child.stdin?.write('\n');
      t.same(await line(2), ASYNCPG_ROWS[change.what], 'asyncpg re-prepares on 0A000, as it does against Postgres');
      await dropServerConnections(sluice);
      child.stdin?.write('\n');
      t.same(await line(3), ASYNCPG_ROWS[change.what], 'on a fresh server connection');
      child.stdin?.end();
      await exited;
    },
  );
}
