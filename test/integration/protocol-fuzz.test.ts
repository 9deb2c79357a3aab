// A short seeded protocol fuzz against Sluice as its own process: no crash, no answer reaching the wrong client, no internal error, no error for the well-behaved clients.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import t from 'tap';
import { fuzzEndpoint, fuzzSluiceConfig, prepareDatabase, type FuzzUsers } from '../../bench/fuzz/fuzz-setup.js';
import { describeReport, runFuzz } from '../../bench/fuzz/run-fuzz.js';
import { errorLines } from '../../bench/fuzz/sluice-watch.js';
import { startCli } from '../helpers/cli.js';
import { APP_DB, ROLES, startTestPostgres } from '../helpers/postgres.js';

/** FUZZ_SEED / FUZZ_MESSAGES rerun this test with another seed or a longer run. */
const SEED = Number(process.env.FUZZ_SEED ?? 1);
const MESSAGES = Number(process.env.FUZZ_MESSAGES ?? 20_000);

// alice logs in with SCRAM (Sluice holds only her verifier), bob with md5.
const USERS: FuzzUsers = { shared: ROLES.alice, md5: ROLES.bob };

const pg = await startTestPostgres(t);
const { defaults, sharedVerifier } = await prepareDatabase((sql, params) => pg.query(sql, params), USERS);
const dir = await mkdtemp(path.join(tmpdir(), 'sluice-fuzz-test-'));
t.teardown(() => rm(dir, { recursive: true, force: true }));
const file = path.join(dir, 'sluice.yaml');
await writeFile(
  file,
  JSON.stringify(fuzzSluiceConfig({ port: 0, pgHost: pg.host, pgPort: pg.port, database: APP_DB, users: USERS, sharedVerifier })),
);
const cli = await startCli(t, file);

const report = await runFuzz({
  seed: SEED,
  messages: MESSAGES,
  concurrency: 24,
  goodClients: 2,
  endpoint: fuzzEndpoint(cli.port, APP_DB, USERS),
  sluice: {
    pid: cli.child.pid!,
    exited: cli.exited.then((code) => `exit ${code}; stderr: ${cli.stderr().slice(-2000)}`),
    internalErrors: () => errorLines(cli.lines),
  },
  defaults,
});
t.comment(describeReport(report).join('\n'));

t.ok(report.messages >= MESSAGES, `${report.messages} messages sent in ${report.sessions} hostile sessions`);
t.same(report.crashes, [], 'Sluice neither exited nor stopped serving');
t.same(report.wrongAnswers, [], 'every answer reached the client it belonged to, with its own session settings');
t.same(report.internalErrors, [], 'Sluice logged no internal error');
t.same(report.good.errorSamples, [], 'the well-behaved clients saw no error');
t.ok(report.good.checks > 0, `the well-behaved clients checked ${report.good.checks} answers`);
