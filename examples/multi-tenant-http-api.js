// A small multi-tenant HTTP API on `pg`: each tenant logs in as its own role through the pooler.
// Run: TENANTS='acme:acme-password,globex:globex-password' PGHOST=127.0.0.1 PGPORT=6432 PGDATABASE=app \
//        node examples/multi-tenant-http-api.js
// Endpoints (on the pgbench tables, `pgbench -i` creates them):
//   GET /tenants/<tenant>/balance   light: one account's balance by primary key
//   GET /tenants/<tenant>/report    heavy: a per-branch summary over 100,000 accounts
// Sluice reads the leading comment tag of the report query and schedules it in class `report`
// (define it under `classes:` to give reports their own limit or lane); other poolers ignore it.
// @ts-check
import http from 'node:http';
import pg from 'pg';

const ACCOUNTS = 100_000 * Number(process.env.PGBENCH_SCALE ?? 10);
const REPORT_ROWS = 100_000;
const BALANCE_SQL = 'SELECT abalance FROM pgbench_accounts WHERE aid = $1';
const REPORT_SQL = `/* sluice:class=report */ SELECT bid, count(*) AS accounts, sum(abalance) AS total
  FROM pgbench_accounts WHERE aid BETWEEN $1 AND $1 + ${REPORT_ROWS - 1} GROUP BY bid`;

/** TENANTS="role:password,role:password" → one connection pool per tenant role. */
function tenantPools() {
  const pools = new Map();
  for (const entry of (process.env.TENANTS ?? '').split(',').filter(Boolean)) {
    const colon = entry.indexOf(':');
    const user = colon < 0 ? entry : entry.slice(0, colon);
    const password = colon < 0 ? undefined : entry.slice(colon + 1);
    // PGHOST, PGPORT and PGDATABASE come from the environment, as for psql.
    const pool = new pg.Pool({ user, password, max: Number(process.env.POOL_MAX ?? 20) });
    pool.on('error', () => undefined); // An idle connection lost; the pool replaces it on demand.
    pools.set(user, pool);
  }
  if (pools.size === 0) throw new Error('set TENANTS, e.g. TENANTS=acme:secret,globex:secret');
  return pools;
}

const randomAid = (upTo) => 1 + Math.floor(Math.random() * upTo);

/** @type {Record<string, (pool: pg.Pool) => Promise<unknown>>} */
const ROUTES = {
  balance: async (pool) => (await pool.query(BALANCE_SQL, [randomAid(ACCOUNTS)])).rows[0],
  report: async (pool) => (await pool.query(REPORT_SQL, [randomAid(ACCOUNTS - REPORT_ROWS)])).rows,
};

function send(res, status, body) {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}

export function createApp(pools) {
  return http.createServer((req, res) => {
    const match = /^\/tenants\/([^/]+)\/([a-z]+)$/.exec(req.url ?? '');
    const pool = match && pools.get(decodeURIComponent(match[1]));
    const route = match && ROUTES[match[2]];
    if (req.method !== 'GET' || !pool || !route) return send(res, 404, { error: 'not found' });
    route(pool).then(
      (body) => send(res, 200, body),
      // 53300 from Sluice means "over your share right now": tell the caller to retry later.
      (err) => send(res, err.code === '53300' ? 503 : 500, { error: err.message, code: err.code }),
    );
  });
}

const pools = tenantPools();
const server = createApp(pools).listen(Number(process.env.PORT ?? 3000), '127.0.0.1', () => {
  const address = server.address();
  console.log(`listening on http://127.0.0.1:${typeof address === 'object' && address ? address.port : ''}`);
});
const stop = () => {
  server.closeAllConnections();
  server.close(() => Promise.all([...pools.values()].map((p) => p.end())).then(() => process.exit(0)));
};
process.once('SIGINT', stop);
process.once('SIGTERM', stop);
