// SHOW STATS: per-database totals since start and averages of the last stats_period, as PgBouncer reports them.
import type { StatsAverages, StatsTotals } from '../../pool/pool-stats.js';
import type { AdminHost } from '../admin-host.js';
import { columns, type Cell, type ResultSet } from './result-set.js';

/** PgBouncer's column suffixes, in its order, and the counter each one reads. */
const FIELDS: ReadonlyArray<[string, keyof StatsTotals]> = [
  ['server_assignment_count', 'serverAssignments'],
  ['xact_count', 'xactCount'],
  ['query_count', 'queryCount'],
  ['received', 'bytesReceived'],
  ['sent', 'bytesSent'],
  ['xact_time', 'xactUs'],
  ['query_time', 'queryUs'],
  ['wait_time', 'waitUs'],
  ['client_parse_count', 'clientParseCount'],
  ['server_parse_count', 'serverParseCount'],
  ['bind_count', 'bindCount'],
  ['client_login_count', 'clientLogins'],
];

/** PgBouncer abbreviates two of the average columns. */
const AVG_NAME: Record<string, string> = { received: 'recv', sent: 'sent' };

export const STATS_COLUMNS = columns({
  database: 'text',
  ...Object.fromEntries(FIELDS.map(([name]) => [`total_${name}`, 'numeric' as const])),
  ...Object.fromEntries(FIELDS.map(([name]) => [`avg_${AVG_NAME[name] ?? name}`, 'numeric' as const])),
});

export function showStats(host: AdminHost): ResultSet {
  const rows: Cell[][] = [];
  for (const db of host.config().databases.keys()) {
    const s = host.statsOf(db);
    rows.push(statsRow(db, s?.totals() ?? null, s?.averages() ?? null));
  }
  return { columns: STATS_COLUMNS, rows };
}

function statsRow(db: string, totals: StatsTotals | null, avg: StatsAverages | null): Cell[] {
  return [db, ...FIELDS.map(([, k]) => totals?.[k] ?? 0), ...FIELDS.map(([, k]) => avg?.[k] ?? 0)];
}
