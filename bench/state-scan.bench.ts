// Micro-benchmark of session-state detection per statement: the byte scan every Query/Parse pays, against a libpg-query parse.
// Run: npm run bench:state-scan (compiles with tsconfig.bench.json); prints a table to stdout.
import { scanSessionState, StateHint } from '../lib/session/state/state-scan.js';
import { StateParser } from '../lib/session/state/session-state.js';

const STATEMENTS = {
  'pgbench select': 'SELECT abalance FROM pgbench_accounts WHERE aid = $1',
  'pgbench update': 'UPDATE pgbench_accounts SET abalance = abalance + $1 WHERE aid = $2',
  'orm select (600 B)': `SELECT "users"."id", "users"."email", "users"."name", "users"."created_at", "users"."updated_at",
    "orgs"."id" AS "org_id", "orgs"."name" AS "org_name" FROM "users" INNER JOIN "orgs" ON "orgs"."id" = "users"."org_id"
    WHERE "users"."org_id" = $1 AND "users"."deleted_at" IS NULL AND ("users"."name" ILIKE $2 OR "users"."email" ILIKE $3)
    ORDER BY "users"."created_at" DESC LIMIT 50 OFFSET $4 /* app:web,controller:users,action:index */`,
  'set local (skipped)': "SET LOCAL statement_timeout = '5s'",
  'set (parsed)': "SET statement_timeout = '5s'",
  'advisory lock (parsed)': 'SELECT pg_advisory_lock($1)',
};

function time(fn: () => void, n: number): number {
  const start = process.hrtime.bigint();
  for (let i = 0; i < n; i++) fn();
  return Number(process.hrtime.bigint() - start) / n;
}

const parser = await StateParser.load();
const rows: string[][] = [['statement', 'scan ns', 'parses?', 'parse ns']];
let sink = 0;
for (const [name, sql] of Object.entries(STATEMENTS)) {
  const buf = Buffer.from(sql);
  time(() => (sink += scanSessionState(buf, 0, buf.length)), 50_000);
  const scanNs = time(() => (sink += scanSessionState(buf, 0, buf.length)), 500_000);
  const parses = (scanSessionState(buf, 0, buf.length) & StateHint.Parse) !== 0;
  time(() => (sink += parser.classify(sql).effects.length), 1000);
  const parseNs = time(() => (sink += parser.classify(sql).effects.length), 10_000);
  rows.push([name, scanNs.toFixed(0), parses ? 'yes' : 'no', parseNs.toFixed(0)]);
}
const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
for (const r of rows) console.log(r.map((c, i) => c.padEnd(widths[i])).join('  '));
console.log(`\n(parse ns is what a statement would cost if every one were parsed; only "parses? yes" ones are. checksum ${sink % 10})`);
