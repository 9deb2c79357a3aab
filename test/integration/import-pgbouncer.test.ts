// Proves `sluice import`: PgBouncer's own etc/pgbouncer.ini and a userlist become a sluice.yaml that starts and serves a client.
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import t from 'tap';
import { runCli, startCli } from '../helpers/cli.js';
import { pgbouncerSourceFile } from '../helpers/pgbouncer-anchor.js';
import { APP_DB, ROLES, startTestPostgres } from '../helpers/postgres.js';

const example = pgbouncerSourceFile('etc/pgbouncer.ini');

const pgServer = await startTestPostgres(t);
const dir = await mkdtemp(path.join(tmpdir(), 'sluice-import-'));
t.teardown(() => rm(dir, { recursive: true, force: true }));

// The example as shipped, plus the one database line it leaves to the user.
const ini = path.join(dir, 'pgbouncer.ini');
await writeFile(
  ini,
  example.replace(/^\[databases\]$/m, `[databases]\napp = host=${pgServer.host} port=${pgServer.port} dbname=${APP_DB}`),
);
// alice's SCRAM verifier, as PgBouncer users copy it from pg_authid: the client's proof logs Sluice in to Postgres.
const [{ rolpassword }] = await pgServer.query("select rolpassword from pg_authid where rolname = 'alice'");
const userlist = path.join(dir, 'userlist.txt');
await writeFile(userlist, `"alice" "${rolpassword}"\n`);

t.test('the example imports, starts and serves a client', async (t) => {
  t.match(example, /^\[databases\]$/m, 'the example has a [databases] section to add to');
  const imported = await runCli(['import', ini, '--userlist', userlist]);
  t.equal(imported.code, 0, imported.stderr);
  t.match(imported.stdout, /^# Imported from .*pgbouncer\.ini by sluice import/);
  t.match(imported.stderr, /sluice import: logfile: /, 'what does not carry over is listed on stderr too');
  t.match(imported.stdout, /^auth_type: md5$/m);
  t.match(imported.stdout, new RegExp(`^auth_file: ${userlist}$`, 'm'));
  t.match(imported.stdout, /^listen_port: 6432$/m);
  // The one change to the written file: port 6432 may be taken on a shared test machine.
  const yamlPath = path.join(dir, 'sluice.yaml');
  await writeFile(yamlPath, imported.stdout.replace(/^listen_port: 6432$/m, 'listen_port: 0'));
  const sluice = await startCli(t, yamlPath);
  const client = new pg.Client({ host: '127.0.0.1', port: sluice.port, user: 'alice', password: ROLES.alice.password, database: APP_DB });
  await client.connect();
  try {
    const { rows } = await client.query('select current_user as user, current_database() as db');
    t.same(rows, [{ user: 'alice', db: APP_DB }]);
  } finally {
    await client.end();
  }
  t.match(await readFile(yamlPath, 'utf8'), /^tenants:/m, 'one tenant per userlist user');
  sluice.child.kill('SIGTERM');
  t.equal(await sluice.exited, 0);
});

t.test('a file PgBouncer would refuse fails the import with exit 1', async (t) => {
  const bad = path.join(dir, 'bad.ini');
  await writeFile(bad, '[pgbouncer]\nlisten_port\n');
  const result = await runCli(['import', bad]);
  t.equal(result.code, 1);
  t.match(result.stderr, /^sluice import: /);
  t.equal(result.stdout, '');
});
