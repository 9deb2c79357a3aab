// Proves psycopg 3 (Debian's python3-psycopg) works through Sluice in both pool modes: prepared statements across server connections, DDL under SELECT *, startup settings, RESET, and a SET that stays with its client.
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { startTestPostgres } from '../helpers/postgres.js';
import { runDriverChecks } from '../helpers/driver-checks.js';

const pg = await startTestPostgres(t);
// Debian's python, where the packages are; a python first on PATH (pyenv, a venv) may not have them.
await runDriverChecks(t, pg, {
  name: 'psycopg',
  cmd: '/usr/bin/python3',
  args: [fileURLToPath(new URL('drivers/psycopg-checks.py', import.meta.url))],
  recoversInAutocommit: false,
});
