// Proves that a client's frames never run on a server connection where its settings could not be applied: the sync goes in the same write as the frames, and a failed one ends its backend before Postgres reads them.
import t, { type Test } from 'tap';
import type pgLib from 'pg';
import { startTestPostgres } from '../helpers/postgres.js';
import { startSluice, type TestSluice } from '../helpers/sluice.js';
import { bind, execute, parse, queryMsg, syncMsg, WireClient } from '../helpers/wire.js';

const pg = await startTestPostgres(t);
await pg.query('create table if not exists sync_log (who text, tsconfig text, pid int)');
await pg.query('grant all on sync_log to alice');
const [{ tsconfig: DEFAULT_TSCONFIG }] = await pg.query(`select current_setting('default_text_search_config') as tsconfig`);

/** A text search configuration alice may create and drop: a value that is valid until it is dropped. */
async function freshConfig(name: string): Promise<void> {
  await pg.query(`drop text search configuration if exists public.${name}`);
  await pg.query(`create text search configuration public.${name} (copy = simple)`);
}

/** alice's backends (Sluice's server connections). */
async function pids(): Promise<number[]> {
  const rows = await pg.query(`select pid from pg_stat_activity where usename = 'alice' and datname = 'app'`);
  return rows.map((r) => r.pid as number).sort();
}

const logged = async (who: string): Promise<Array<{ tsconfig: string }>> => pg.query('select tsconfig from sync_log where who = $1', [who]);

/** What setUp needs of client a: a simple query. */
type Runs = { query(sql: string): Promise<unknown> };

/**
 * Client `a` sets default_text_search_config to a configuration, then `b` (same backend, pool of one) sets
 * another value: b's transaction carries a sync (a round trip on the fresh connection), which proves the
 * backend, so a's next sync there goes in the same write as a's frames. Then the configuration is dropped:
 * a's value can no longer be applied anywhere.
 */
async function setUp<A extends Runs>(
  t: Test,
  who: string,
  connectA: (s: TestSluice) => Promise<A>,
): Promise<{ sluice: TestSluice; a: A; b: pgLib.Client }> {
  await freshConfig(`sync_${who}`);
  const sluice = await startSluice(t, pg, { default_pool_size: 1 });
  const a = await connectA(sluice);
  const b = await sluice.connect();
  await a.query(`set default_text_search_config = 'public.sync_${who}'`);
  await b.query(`set default_text_search_config = 'pg_catalog.german'`);
  t.equal((await b.query(`select current_setting('default_text_search_config') as v`)).rows[0].v, 'pg_catalog.german');
  await pg.query(`drop text search configuration public.sync_${who}`);
  return { sluice, a, b };
}

/** A raw client, for pipelines no driver sends. */
async function wire(t: Test, sluice: TestSluice): Promise<WireClient & Runs> {
  const w = await WireClient.connect({ ...sluice.options('alice'), host: '127.0.0.1' });
  t.teardown(() => w.close());
  return Object.assign(w, {
    query: async (sql: string) => {
      w.send(queryMsg(sql));
      return w.untilReady();
    },
  });
}

t.test('a sync that fails in the same write as the frames: the frames never run there, and the client is told', async (t) => {
  const { a, b } = await setUp(t, 'simple', (s) => s.connect());
  const before = await pids();
  const err = await a.query(`insert into sync_log values ('simple', current_setting('default_text_search_config'), pg_backend_pid())`).then(
    () => null,
    (e: { code: string; message: string; severity: string }) => e,
  );
  t.match(
    err,
    {
      code: '22023',
      severity: 'ERROR',
      message:
        /could not apply session setting default_text_search_config on a server connection: invalid value for parameter "default_text_search_config": "public.sync_simple"/,
    },
    "Postgres' own reason, with the setting's name",
  );
  t.same(await logged('simple'), [], "the INSERT never ran: not with b's value, not at all");
  t.notSame(await pids(), before, 'the backend that could not take the setting ended itself');

  const after = (await a.query(`select current_setting('default_text_search_config') as v`)).rows[0].v;
  t.equal(after, DEFAULT_TSCONFIG, 'a goes on, with the default for the setting that could not follow it');
  t.equal(
    (await b.query(`select current_setting('default_text_search_config') as v`)).rows[0].v,
    'pg_catalog.german',
    'b keeps its own value',
  );
});

for (const named of [false, true]) {
  t.test(`a pipeline of two batches behind a failing sync (${named ? 'named' : 'unnamed'} statement): none of it runs`, async (t) => {
    const who = named ? 'named' : 'unnamed';
    const { a } = await setUp(t, who, (s) => wire(t, s));
    const name = named ? 'log_it' : '';
    const insert = `insert into sync_log values ($1, current_setting('default_text_search_config'), pg_backend_pid())`;
    const batch = (withParse: boolean): Buffer[] => [
      ...(withParse ? [parse(insert, name)] : []),
      bind([who], { statement: name }),
      execute(),
      syncMsg(),
    ];
    a.send(...batch(true), ...batch(!named));
    const replies = await a.untilReady(2);
    t.same(
      replies.map((m) => m.type),
      ['E', 'Z', 'E', 'Z'],
      'each batch: the error and ReadyForQuery, and nothing of its own',
    );
    t.match(replies[0].body.toString(), /C22023\0.*default_text_search_config/s);
    t.same(await logged(who), [], 'neither INSERT ran');
    a.send(...batch(true));
    const again = await a.untilReady();
    t.same(
      again.map((m) => m.type),
      ['1', '2', 'C', 'Z'],
      'the next transaction runs, once',
    );
    t.same(await logged(who), [{ tsconfig: DEFAULT_TSCONFIG }]);
  });
}

t.test("the next client of the backend after a good sync in the same write sees its own values, never the last client's", async (t) => {
  const sluice = await startSluice(t, pg, { default_pool_size: 1 });
  const a = await sluice.connect();
  const b = await sluice.connect();
  await a.query(`set search_path = a_schema, public`);
  await b.query(`set search_path = b_schema, public`);
  for (let i = 0; i < 5; i++) {
    for (const [c, want] of [
      [a, 'a_schema, public'],
      [b, 'b_schema, public'],
    ] as const) {
      const { rows } = await c.query({ text: `select current_setting('search_path') as sp, $1::int as i`, values: [i] });
      t.same(rows, [{ sp: want, i }]);
    }
  }
});
