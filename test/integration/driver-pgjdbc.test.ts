// Proves pgjdbc (Debian's libpostgresql-jdbc-java) works through Sluice in both pool modes: server-side prepared statements across server connections, DDL under SELECT *, startup `options` and ApplicationName, RESET, and a SET (setTransactionIsolation too) that stays with its client.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { startTestPostgres } from '../helpers/postgres.js';
import { runDriverChecks } from '../helpers/driver-checks.js';
import { run } from '../helpers/run.js';

/** Where Debian's package puts the driver. */
const PGJDBC_JAR = '/usr/share/java/postgresql.jar';

// Compiled once: each of the three runs then starts a JVM without compiling.
const classes = t.testdir();
const sources = ['pgjdbc-checks.java', 'mini-json.java'].map((f) => fileURLToPath(new URL(`drivers/${f}`, import.meta.url)));
const compiled = await run('javac', ['-d', classes, '-cp', PGJDBC_JAR, ...sources]);
if (compiled.code !== 0) throw new Error(`javac failed: ${compiled.err}`);

const pg = await startTestPostgres(t);
await runDriverChecks(t, pg, {
  name: 'pgjdbc',
  cmd: 'java',
  args: ['-cp', [classes, PGJDBC_JAR].join(path.delimiter), 'PgjdbcChecks'],
  recoversInAutocommit: true,
});
