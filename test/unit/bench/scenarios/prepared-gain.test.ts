// Checks the throughput scenario's prepared-versus-extended table: ratios per target and client count, failed modes named.
import t from 'tap';
import { preparedGain } from '../../../../bench/scenarios/prepared-gain.js';
import type { Row } from '../../../../bench/scenarios/scenario.js';

const rows: Row[] = [
  { variant: 'select-only extended 10', target: 'sluice', tps: 1000, cpuUsPerTxn: 50 },
  { variant: 'select-only prepared 10', target: 'sluice', tps: 1500, cpuUsPerTxn: 40 },
  { variant: 'select-only extended 10', target: 'pgbouncer', tps: 900, cpuUsPerTxn: 30 },
  { variant: 'select-only prepared 10', target: 'pgbouncer', error: '10 of 10 clients aborted: prepared statement "P_0" does not exist' },
  { variant: 'select-only simple 10', target: 'sluice', tps: 1200, cpuUsPerTxn: 45 },
  { variant: 'tpcb-like simple 50', target: 'sluice', tps: 300 },
];

t.test('one line per target and client count, with the gain as ratios', async (t) => {
  const lines = preparedGain(rows)
    .split('\n')
    .filter((l) => l.startsWith('| '));
  t.equal(lines.length, 4, 'header, rule, Sluice, PgBouncer');
  t.match(lines[2], /^\| Sluice \| 10 \| 1,?000 \| 1,?500 \| 1\.50× \| 50\.0 \| 40\.0 \| 0\.80× \|$/);
  t.match(
    lines[3],
    /^\| PgBouncer[^|]* \| 10 \| 900 \| failed \| – \| 30\.0 \| failed \| – \|$/,
    'a failed mode says so, and has no ratio',
  );
});
