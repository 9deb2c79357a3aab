// Proves failed-login throttling per client address: a wrong-password storm from one address is refused early while other addresses log in.
import pg from 'pg';
import t from 'tap';
import { APP_DB, startTestPostgres } from '../helpers/postgres.js';
import { startSluice, type TestSluice } from '../helpers/sluice.js';
import { cstr, message } from '../helpers/bytes.js';
import { errorFields, loginMd5, RawClient, startupPacket } from '../helpers/raw-client.js';
import { parseExposition } from '../helpers/exposition.js';
import { md5ClientResponse } from '../../lib/auth/md5.js';

const STORM_ADDRESS = '127.0.0.2';
const pg1 = await startTestPostgres(t);

type Outcome = 'auth-failed' | 'throttled';

/** One md5 login as bob with a wrong password from `from`: refused after the password, or at once by the throttle. */
async function wrongPassword(sluice: TestSluice, from: string): Promise<{ outcome: Outcome; message: string }> {
  const c = await RawClient.connect(sluice.port, '127.0.0.1', from);
  try {
    c.send(startupPacket({ user: 'bob', database: APP_DB }));
    const first = await c.readMessage();
    if (first.type === 'E') {
      const e = errorFields(first);
      if (e.code !== '08004') throw new Error(`unexpected refusal ${e.code}: ${e.message}`);
      return { outcome: 'throttled', message: e.message ?? '' };
    }
    c.send(message('p', cstr(md5ClientResponse('bob', 'not-the-password', first.body.subarray(4, 8)))));
    const e = await c.readError();
    if (e.code !== '28P01') throw new Error(`unexpected error ${e.code}: ${e.message}`);
    return { outcome: 'auth-failed', message: e.message ?? '' };
  } finally {
    c.destroy();
  }
}

/** `workers` loops of `each` wrong-password logins from one address, side by side. */
async function storm(sluice: TestSluice, workers: number, each: number): Promise<Array<{ outcome: Outcome; message: string }>> {
  const loops = Array.from({ length: workers }, async () => {
    const out = [];
    for (let i = 0; i < each; i++) out.push(await wrongPassword(sluice, STORM_ADDRESS));
    return out;
  });
  return (await Promise.all(loops)).flat();
}

async function throttledTotal(sluice: TestSluice): Promise<number> {
  const family = parseExposition(await sluice.pooler.metrics.scrape()).get('sluice_client_logins_throttled_total');
  return family?.samples.reduce((n, s) => n + s.value, 0) ?? 0;
}

t.test('a wrong-password storm from one address is throttled while a client from another address logs in', async (t) => {
  const limit = 5;
  const workers = 8;
  const sluice = await startSluice(t, pg1, { auth_failure_limit: limit, auth_failure_window: 60, auth_failure_lockout: 60 });
  const good = async (): Promise<number> => {
    let ok = 0;
    for (let i = 0; i < 10; i++) {
      const c = new pg.Client(sluice.options('alice'));
      await c.connect();
      ok += (await c.query('select 1 as n')).rows[0].n;
      await c.end();
    }
    return ok;
  };
  const [outcomes, goodLogins] = await Promise.all([storm(sluice, workers, 50), good()]);

  const failed = outcomes.filter((o) => o.outcome === 'auth-failed').length;
  const throttled = outcomes.filter((o) => o.outcome === 'throttled');
  t.ok(
    failed >= limit && failed < limit + workers,
    `${failed} passwords were checked: the limit, plus logins already past the check when it locked`,
  );
  t.equal(throttled.length, outcomes.length - failed, 'every later login was refused before authentication');
  t.match(throttled[0]?.message, /too many failed logins from 127\.0\.0\.2: logins from this address are refused for \d+ more seconds/);
  t.equal(goodLogins, 10, 'the client from 127.0.0.1 logged in and ran its query every time during the storm');
  t.equal(await throttledTotal(sluice), throttled.length, 'sluice_client_logins_throttled_total counts each refusal');

  await t.rejects(
    loginMd5(sluice.port, { client: await RawClient.connect(sluice.port, '127.0.0.1', STORM_ADDRESS) }),
    /too many failed logins/,
    'while locked out, even the right password from that address is refused',
  );
  const fine = await loginMd5(sluice.port, { client: await RawClient.connect(sluice.port, '127.0.0.1', '127.0.0.3') });
  t.ok(fine.pid, 'bob logs in from yet another address');
  fine.client.destroy();
});

t.test('throttling settings are reloadable: auth_failure_limit 0 lets a locked-out address in at once', async (t) => {
  const sluice = await startSluice(t, pg1, { auth_failure_limit: 2, auth_failure_lockout: 600 });
  const outcomes = await storm(sluice, 1, 3);
  t.same(
    outcomes.map((o) => o.outcome),
    ['auth-failed', 'auth-failed', 'throttled'],
  );
  sluice.reload({ auth_failure_limit: 0 });
  const back = await loginMd5(sluice.port, { client: await RawClient.connect(sluice.port, '127.0.0.1', STORM_ADDRESS) });
  t.ok(back.pid, 'the address logs in with the right password right after the reload');
  back.client.destroy();
  t.same(
    (await storm(sluice, 1, 3)).map((o) => o.outcome),
    ['auth-failed', 'auth-failed', 'auth-failed'],
    'and nothing is throttled any more',
  );
});
