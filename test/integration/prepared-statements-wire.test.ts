// Proves, reply by reply against Postgres itself, that named prepared statements in transaction mode behave as on one backend: pipelines, errors, Close and reuse, other server connections, DISCARD ALL, eviction.
import t, { type Test } from 'tap';
import { startTestPostgres, ROLES, APP_DB } from '../helpers/postgres.js';
import { startSluice, type TestSluice } from '../helpers/sluice.js';
import {
  WireClient,
  bind,
  closeStatement,
  commandTag,
  dataRow,
  describePortal,
  describeStatement,
  errorFields,
  execute,
  flush,
  parse,
  queryMsg,
  rowsOf,
  syncMsg,
  type BackendMsg,
  type WireLogin,
} from '../helpers/wire.js';

const pg = await startTestPostgres(t);
const direct: WireLogin = { host: pg.host, port: pg.port, user: ROLES.bob.user, password: ROLES.bob.password, database: APP_DB };
await pg.query('create table pw_items (id int)');
await pg.query('grant all on pw_items to bob');

async function wire(t: Test, login: WireLogin): Promise<WireClient> {
  const c = await WireClient.connect(login);
  t.teardown(() => c.close());
  return c;
}

/** What a client can tell apart in a reply: its type, and the rows, tags, columns, errors and statuses it carries. */
function summary(msgs: BackendMsg[]): string[] {
  return msgs.map((m) => {
    switch (m.type) {
      case 'D':
        return `D${JSON.stringify(dataRow(m))}`;
      case 'C':
        return `C ${commandTag(m)}`;
      case 'E':
        return `E ${errorFields(m).C} ${errorFields(m).M}`;
      case 'Z':
        return `Z${String.fromCharCode(m.body[0])}`;
      case 'T':
        return `T${m.body.readInt16BE(0)}`;
      case 't':
        return `t${m.body.readInt16BE(0)}`;
      default:
        return m.type;
    }
  });
}

/** Sends frames in one write and reads through `ready` ReadyForQuery messages. */
async function exchange(c: WireClient, frames: Buffer[], ready = 1): Promise<string[]> {
  c.send(...frames);
  return summary(await c.untilReady(ready));
}

/** The same frames on a fresh direct connection to Postgres: what one backend answers. */
async function expected(t: Test, frames: Buffer[], ready = 1): Promise<string[]> {
  return exchange(await wire(t, direct), frames, ready);
}

function bobPool(sluice: TestSluice) {
  const pool = sluice.pooler.pools.get(`${APP_DB}\0bob`);
  if (!pool) throw new Error('no pool for bob yet');
  return pool;
}

const PIPELINE = [
  parse('select $1::int * 10 as v', 's1'),
  parse("select 'two'::text as w", 's2'),
  bind(['4'], { statement: 's1' }),
  execute(),
  bind([], { statement: 's2' }),
  describePortal(),
  execute(),
  // The same text as s1 under another name: one statement on the server.
  parse('select $1::int * 10 as v', 's3'),
  describeStatement('s3'),
  bind(['7'], { statement: 's3' }),
  execute(),
  closeStatement('s2'),
  closeStatement('never-prepared'),
  syncMsg(),
];

t.test('a pipeline of named statements gets the replies of one backend, in order', async (t) => {
  const sluice = await startSluice(t, pg, { default_pool_size: 1 });
  const want = await expected(t, PIPELINE);
  t.same(want, [
    '1',
    '1',
    '2',
    'D["40"]',
    'C SELECT 1',
    '2',
    'T1',
    'D["two"]',
    'C SELECT 1',
    '1',
    't1',
    'T1',
    '2',
    'D["70"]',
    'C SELECT 1',
    '3',
    '3',
    'ZI',
  ]);
  // First client: Sluice prepares; second and third: the server has them, so ParseComplete is Sluice's own.
  for (const who of ['first client', 'second client', 'third client']) {
    t.same(await exchange(await wire(t, sluice.options('bob')), PIPELINE), want, who);
  }
  const stats = bobPool(sluice).preparedStats;
  t.ok(stats.misses >= 2 && stats.hits >= 6, `later clients reused what the first prepared (${JSON.stringify(stats)})`);
});

t.test('on the server the statements carry Sluice names, never the client names', async (t) => {
  const sluice = await startSluice(t, pg, { default_pool_size: 1 });
  const c = await wire(t, sluice.options('bob'));
  c.send(
    parse('select 1 as one', 'mine'),
    bind([], { statement: 'mine' }),
    execute(),
    parse('select name from pg_prepared_statements order by name'),
    bind(),
    execute(),
    syncMsg(),
  );
  const names = rowsOf(await c.untilReady())
    .map((r) => r[0])
    .filter((n) => n !== '1');
  t.ok(names.length >= 1, 'the statement is prepared on the server');
  for (const n of names) t.match(n, /^sluice_[0-9a-f]{32}$/, `server-side name ${n}`);
  t.notOk(names.includes('mine'), 'the client name stays in Sluice');
});

t.test('Parse and Describe answered before any Sync, as a driver that flushes expects', async (t) => {
  const sluice = await startSluice(t, pg, { default_pool_size: 1 });
  const first = await wire(t, sluice.options('bob'));
  t.same(await exchange(first, [parse('select $1::text as x', 'f'), syncMsg()]), ['1', 'ZI']);
  // Another client, same text: the ParseComplete is Sluice's, the description the server's, and only a Flush asks for them.
  const c = await wire(t, sluice.options('bob'));
  c.send(parse('select $1::text as x', 'g'), describeStatement('g'), flush());
  t.same(summary([await c.next(), await c.next(), await c.next()]), ['1', 't1', 'T1']);
  t.same(await exchange(c, [bind(['hi'], { statement: 'g' }), execute(), syncMsg()]), ['2', 'D["hi"]', 'C SELECT 1', 'ZI']);
});

t.test('a duplicate name: 42P05, then everything up to Sync is skipped', async (t) => {
  const sluice = await startSluice(t, pg, { default_pool_size: 1 });
  const frames = [parse('select 1', 'dup'), parse('select 2', 'dup'), bind([], { statement: 'dup' }), execute(), syncMsg()];
  const want = await expected(t, frames);
  t.same(want, ['1', 'E 42P05 prepared statement "dup" already exists', 'ZI']);
  const c = await wire(t, sluice.options('bob'));
  t.same(await exchange(c, frames), want);
  t.same(
    await exchange(c, [bind([], { statement: 'dup' }), execute(), syncMsg()]),
    ['2', 'D["1"]', 'C SELECT 1', 'ZI'],
    'the first statement of that name is still there',
  );
});

t.test('an unknown name: 26000, and the failed implicit transaction rolls back what ran before it', async (t) => {
  const sluice = await startSluice(t, pg, { default_pool_size: 1 });
  const frames = [
    parse('insert into pw_items values (1)'),
    bind(),
    execute(),
    bind([], { statement: 'nope' }),
    execute(),
    parse('select 1', 'later'),
    syncMsg(),
  ];
  const want = await expected(t, frames);
  t.same(want, ['1', '2', 'C INSERT 0 1', 'E 26000 prepared statement "nope" does not exist', 'ZI']);
  const c = await wire(t, sluice.options('bob'));
  t.same(await exchange(c, frames), want);
  t.same(await pg.query('select count(*)::int as n from pw_items'), [{ n: 0 }], 'neither insert was committed');
  t.same(await exchange(c, [parse('select 1', 'later'), syncMsg()]), ['1', 'ZI'], 'the skipped Parse never took the name');
});

t.test("inside a transaction block Sluice's own error aborts the transaction, as Postgres would", async (t) => {
  const sluice = await startSluice(t, pg, { default_pool_size: 1 });
  const frames = [queryMsg('begin'), describeStatement('nope'), syncMsg(), queryMsg('select 1'), queryMsg('rollback')];
  const want = await expected(t, frames, 4);
  t.same(
    want.filter((m) => m.startsWith('Z')),
    ['ZT', 'ZE', 'ZE', 'ZI'],
  );
  t.same(await exchange(await wire(t, sluice.options('bob')), frames, 4), want);
});

t.test('Close then reuse the name for another statement', async (t) => {
  const sluice = await startSluice(t, pg, { default_pool_size: 1 });
  const frames = [
    parse("select 'old' as v", 'n'),
    bind([], { statement: 'n' }),
    execute(),
    closeStatement('n'),
    parse("select 'new' as v", 'n'),
    bind([], { statement: 'n' }),
    execute(),
    syncMsg(),
  ];
  const want = await expected(t, frames);
  t.same(want, ['1', '2', 'D["old"]', 'C SELECT 1', '3', '1', '2', 'D["new"]', 'C SELECT 1', 'ZI']);
  const c = await wire(t, sluice.options('bob'));
  t.same(await exchange(c, frames), want);
  t.same(
    await exchange(c, [closeStatement('n'), bind([], { statement: 'n' }), syncMsg()]),
    ['3', 'E 26000 prepared statement "n" does not exist', 'ZI'],
    'closed means gone',
  );
});

t.test('a statement unknown on the second server connection is prepared there first', async (t) => {
  const sluice = await startSluice(t, pg, { default_pool_size: 2 });
  const pid = [parse('select pg_backend_pid()'), bind(), execute()];
  const c = await wire(t, sluice.options('bob'));
  const first = await exchange(c, [parse('select $1::int + 1 as v', 'p'), ...pid, syncMsg()]);
  // Hold that server connection in an open transaction, so the next one goes elsewhere.
  const blocker = await wire(t, sluice.options('bob'));
  blocker.send(queryMsg('begin'), queryMsg('select pg_backend_pid()'));
  const held = summary(await blocker.untilReady(2));
  t.equal(held[3], first[3], 'the blocker holds the connection the statement was prepared on');
  const second = await exchange(c, [bind(['41'], { statement: 'p' }), execute(), ...pid, syncMsg()]);
  t.same(second.slice(0, 3), ['2', 'D["42"]', 'C SELECT 1'], 'exactly the replies of a prepared statement');
  t.not(second[5], first[3], 'and it ran on another backend');
  t.equal(bobPool(sluice).total, 2);
  await exchange(blocker, [queryMsg('rollback')]);
});

t.test('a portal bound from a named statement is fetched in parts', async (t) => {
  const sluice = await startSluice(t, pg, { default_pool_size: 1 });
  const frames = [
    queryMsg('begin'),
    parse('select generate_series(1, 3) as n', 'gs'),
    bind([], { statement: 'gs', portal: 'cur' }),
    execute('cur', 2),
    execute('cur', 2),
    syncMsg(),
    queryMsg('commit'),
  ];
  const want = await expected(t, frames, 3);
  t.same(want, ['C BEGIN', 'ZT', '1', '2', 'D["1"]', 'D["2"]', 's', 'D["3"]', 'C SELECT 1', 'ZT', 'C COMMIT', 'ZI']);
  t.same(await exchange(await wire(t, sluice.options('bob')), frames, 3), want);
});

t.test("DISCARD ALL drops the client's statements, and the server connection is not trusted blindly after it", async (t) => {
  const sluice = await startSluice(t, pg, { default_pool_size: 1 });
  const steps = [
    [parse('select 10 as ten', 'd'), bind([], { statement: 'd' }), execute(), syncMsg()],
    [queryMsg('discard all'), bind([], { statement: 'd' }), execute(), syncMsg()],
    [parse('select 10 as ten', 'd'), bind([], { statement: 'd' }), execute(), syncMsg()],
  ];
  const want = await expected(t, steps.flat(), 4);
  t.same(want, [
    '1',
    '2',
    'D["10"]',
    'C SELECT 1',
    'ZI',
    'C DISCARD ALL',
    'ZI',
    'E 26000 prepared statement "d" does not exist',
    'ZI',
    '1',
    '2',
    'D["10"]',
    'C SELECT 1',
    'ZI',
  ]);
  const a = await wire(t, sluice.options('bob'));
  const b = await wire(t, sluice.options('bob'));
  t.same(await exchange(a, steps[0]), want.slice(0, 5));
  // Another client prepares the same text while it is on the server: Sluice knows it is there.
  t.same(await exchange(b, [parse('select 10 as ten', 'mine'), syncMsg()]), ['1', 'ZI']);
  t.same(await exchange(a, steps[1], 2), want.slice(5, 9));
  // Inside a transaction block, where a failure is not retried: Sluice must know the DISCARD dropped it.
  t.same(
    await exchange(b, [queryMsg('begin'), bind([], { statement: 'mine' }), execute(), syncMsg(), queryMsg('commit')], 3),
    ['C BEGIN', 'ZT', '2', 'D["10"]', 'C SELECT 1', 'ZT', 'C COMMIT', 'ZI'],
    "the other client's statement is prepared again after the DISCARD ALL dropped it",
  );
  t.same(await exchange(a, steps[2]), want.slice(9), 'and the name is free to prepare again');
});

t.test("beyond max_prepared_statements the least recently used are closed, out of the client's sight", async (t) => {
  const sluice = await startSluice(t, pg, { default_pool_size: 1, max_prepared_statements: 2 });
  const c = await wire(t, sluice.options('bob'));
  const texts = [0, 1, 2, 3].map((i) => `select ${i} * $1::int as v`);
  for (const [i, text] of texts.entries()) t.same(await exchange(c, [parse(text, `e${i}`), syncMsg()]), ['1', 'ZI']);
  for (let round = 0; round < 3; round++) {
    for (let i = 0; i < texts.length; i++) {
      t.same(await exchange(c, [bind(['5'], { statement: `e${i}` }), execute(), syncMsg()]), ['2', `D["${i * 5}"]`, 'C SELECT 1', 'ZI']);
    }
  }
  const onServer = await exchange(c, [
    parse("select count(*) from pg_prepared_statements where name like 'sluice%'"),
    bind(),
    execute(),
    syncMsg(),
  ]);
  t.ok(Number(JSON.parse(onServer[2].slice(1))[0]) <= 2, `the server holds at most 2 (${onServer[2]})`);
  t.ok(bobPool(sluice).preparedStats.evictions >= 8, `evictions: ${bobPool(sluice).preparedStats.evictions}`);
});

t.test('max_prepared_statements: 0 passes names through, as PgBouncer before 1.21 did', async (t) => {
  const sluice = await startSluice(t, pg, { default_pool_size: 1, max_prepared_statements: 0 });
  const a = await wire(t, sluice.options('bob'));
  t.same(await exchange(a, [parse('select 1', 'shared'), syncMsg()]), ['1', 'ZI']);
  const b = await wire(t, sluice.options('bob'));
  t.same(
    await exchange(b, [parse('select 1', 'shared'), syncMsg()]),
    ['E 42P05 prepared statement "shared" already exists', 'ZI'],
    "the second client meets the first one's statement on the shared server connection",
  );
});

t.test('session mode passes statement names through untouched', async (t) => {
  const sluice = await startSluice(t, pg, { default_pool_size: 1, pool_mode: 'session' });
  const c = await wire(t, sluice.options('bob'));
  const r = await exchange(c, [
    parse('select 1', 'plain_name'),
    parse('select name from pg_prepared_statements'),
    bind(),
    execute(),
    syncMsg(),
  ]);
  t.same(r, ['1', '1', '2', 'D["plain_name"]', 'C SELECT 1', 'ZI']);
});

t.test('the unnamed statement another client parsed on the same backend never runs for this one', async (t) => {
  const sluice = await startSluice(t, pg, { default_pool_size: 1 });
  const a = await wire(t, sluice.options('bob'));
  const b = await wire(t, sluice.options('bob'));
  t.same(await exchange(a, [parse(`select 'secret of a'`), syncMsg()]), ['1', 'ZI'], 'a parses the unnamed statement and syncs');
  const bUse = [bind(), execute(), syncMsg()];
  const directly = await expected(t, bUse);
  t.match(directly[0], /^E 26000/, 'directly, a session that parsed nothing has no unnamed statement');
  const got = await exchange(b, bUse);
  t.notOk(
    got.some((m) => m.includes('secret of a')),
    `b never runs a's statement: ${got.join(' ')}`,
  );
  t.match(got[0], /^E 26000 unnamed prepared statement does not exist/, 'b gets 26000, as a fresh session does');
  t.equal(got.at(-1), 'ZI');
  t.match((await exchange(b, [describeStatement(), syncMsg()]))[0], /^E 26000/, 'a Describe of it too');
  t.same(
    await exchange(a, [bind(), execute(), syncMsg()]),
    ['2', 'D["secret of a"]', 'C SELECT 1', 'ZI'],
    'a, whose statement it is, still runs it on that backend',
  );
  t.same(
    await exchange(b, [queryMsg('select 1')]),
    ['T1', 'D["1"]', 'C SELECT 1', 'ZI'],
    "b's simple query replaces the unnamed statement on that backend",
  );
  t.same(
    await exchange(a, [describeStatement(), bind(), execute(), syncMsg()]),
    ['t0', 'T1', '2', 'D["secret of a"]', 'C SELECT 1', 'ZI'],
    "a's own unnamed statement is prepared again there from its last Parse, as its own session would still have it (psql's \\gdesc)",
  );
  t.same(await exchange(a, [queryMsg('select 2')]), ['T1', 'D["2"]', 'C SELECT 1', 'ZI']);
  t.match((await exchange(a, [bind(), execute(), syncMsg()]))[0], /^E 26000/, "after a's own simple query it has none, as in Postgres");
});

t.test("an unnamed DEALLOCATE ALL prepared again on another backend still lets go of the client's named statements", async (t) => {
  const sluice = await startSluice(t, pg, { default_pool_size: 1 });
  const a = await wire(t, sluice.options('bob'));
  const b = await wire(t, sluice.options('bob'));
  t.same(await exchange(a, [parse('select 7', 'pw_keep'), parse('deallocate all'), syncMsg()]), ['1', '1', 'ZI']);
  t.same(
    await exchange(b, [queryMsg('select 1')]),
    ['T1', 'D["1"]', 'C SELECT 1', 'ZI'],
    'b replaces the unnamed statement on that backend',
  );
  t.same(
    await exchange(a, [bind(), execute(), syncMsg()]),
    ['2', 'C DEALLOCATE ALL', 'ZI'],
    "a's unnamed DEALLOCATE ALL, prepared again there, runs",
  );
  t.match(
    (await exchange(a, [bind([], { statement: 'pw_keep' }), execute(), syncMsg()]))[0],
    /^E 26000/,
    'and its named statements are gone, as in Postgres',
  );
});
