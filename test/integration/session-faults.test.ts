// An exception while one client is handled ends that client with an ErrorResponse and a log line, closes its server connection, and nobody else notices.
import t, { type Test } from 'tap';
import type pg from 'pg';
import { startTestPostgres } from '../helpers/postgres.js';
import { startSluice } from '../helpers/sluice.js';
import { captureLog } from '../helpers/log-capture.js';
import type { ClientSession } from '../../lib/session/client-session.js';

const realPg = await startTestPostgres(t);
const logs = captureLog();
const sluice = await startSluice(t, realPg, { default_pool_size: 2 }, { log: logs.log });

/** The pooler's session behind a pg client (found by the cancel key it was given). */
function sessionOf(c: pg.Client): ClientSession {
  const pid = (c as unknown as { processID: number }).processID;
  const s = [...sluice.pooler.sessions.values()].find((x) => x.ident.pid === pid);
  if (!s) throw new Error('no session for that client');
  return s;
}

/** Makes one method of a session throw the next time it runs. */
function breakOnce(s: ClientSession, method: string): void {
  const target = s as unknown as Record<string, (...args: unknown[]) => unknown>;
  const original = target[method];
  target[method] = function (this: unknown, ..._args: unknown[]) {
    target[method] = original;
    throw new Error(`injected fault in ${method}`);
  };
}

async function faultCount(): Promise<number> {
  const text = await sluice.pooler.metrics.scrape();
  const m = /^sluice_client_session_faults_total\{[^}]*\} (\d+)$/m.exec(text);
  return m ? Number(m[1]) : 0;
}

/** Whether Postgres still has this backend, once it has had a moment to notice a closed connection. */
async function backendGone(pid: number): Promise<boolean> {
  for (let i = 0; i < 100; i++) {
    if ((await realPg.query('select 1 from pg_stat_activity where pid = $1', [pid])).length === 0) return true;
    await new Promise((r) => setTimeout(r, 20));
  }
  return false;
}

const bystander = await sluice.connect('alice');

async function bystanderFine(t: Test, token: string): Promise<void> {
  const { rows } = await bystander.query('select $1::text as v', [token]);
  t.equal(rows[0].v, token, 'another client of the same pool is served as before');
}

t.test('a throw while the client input is handled', async (t) => {
  const before = await faultCount();
  const victim = await sluice.connect('alice');
  const id = sessionOf(victim).ident.id;
  breakOnce(sessionOf(victim), 'admit');
  const err = await victim.query('select 1').then(
    () => null,
    (e: Error & { code?: string }) => e,
  );
  t.equal(err?.code, 'XX000', 'the client gets an internal_error ErrorResponse');
  t.match(err?.message, /internal pooler error: injected fault in admit/);
  t.equal(await faultCount(), before + 1, 'counted in sluice_client_session_faults_total');
  const line = logs.lines().find((l) => l.where === 'client input' && l.err?.message === 'injected fault in admit');
  t.ok(line, 'a log line names the error and where it happened');
  t.equal(line?.client, id, 'and the client');
  await bystanderFine(t, 'after-input-fault');
});

t.test('a throw while server output is relayed closes that server connection', async (t) => {
  const victim = await sluice.connect('alice');
  await victim.query('select 1');
  const s = sessionOf(victim);
  const { rows } = await victim.query('select pg_backend_pid() as pid');
  const backend = rows[0].pid as number;
  breakOnce(s, 'serverData');
  const err = await victim.query('select 2').then(
    () => null,
    (e: Error & { code?: string }) => e,
  );
  t.equal(err?.code, 'XX000');
  t.match(err?.message, /injected fault in serverData/);
  t.ok(await backendGone(backend), 'its backend was closed, not handed to anyone');
  await bystanderFine(t, 'after-server-fault');
});

t.test('a throw while a server connection is linked (called from the scheduler)', async (t) => {
  const victim = await sluice.connect('alice');
  breakOnce(sessionOf(victim), 'linkServer');
  const err = await victim.query('select 3').then(
    () => null,
    (e: Error & { code?: string }) => e,
  );
  t.equal(err?.code, 'XX000');
  t.match(err?.message, /injected fault in linkServer/);
  await bystanderFine(t, 'after-grant-fault');
  const fresh = await sluice.connect('alice');
  t.same((await fresh.query('select 4 as n')).rows, [{ n: 4 }], 'new clients log in and are served');
});
