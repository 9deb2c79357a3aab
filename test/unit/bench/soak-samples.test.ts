// Checks the soak's arithmetic: reading a metric from the exposition, the trend per minute, and the text plot.
import t from 'tap';
import { metricValue, slopePerMinute, sparkline } from '../../../bench/soak/soak-samples.js';

t.test('a metric value from Prometheus text, with or without labels', async (t) => {
  const text = '# HELP x\nsluice_nodejs_heap_size_used_bytes 2097152\nsluice_clients{listener="main",state="idle"} 3\n';
  t.equal(metricValue(text, 'sluice_nodejs_heap_size_used_bytes'), 2097152);
  t.equal(metricValue(text, 'sluice_clients'), 3);
  t.equal(metricValue(text, 'sluice_missing'), null);
});

t.test('the slope is per minute, zero when flat, null with too few points', async (t) => {
  t.equal(
    slopePerMinute([
      { t: 0, v: 10 },
      { t: 30, v: 11 },
      { t: 60, v: 12 },
    ]),
    2,
  );
  t.equal(
    slopePerMinute([
      { t: 0, v: 5 },
      { t: 10, v: 5 },
      { t: 20, v: 5 },
    ]),
    0,
  );
  t.equal(
    slopePerMinute([
      { t: 0, v: 5 },
      { t: 10, v: 6 },
    ]),
    null,
  );
});

t.test('the plot spans the lowest to the highest bar', async (t) => {
  t.equal(sparkline([1, 2, 3]), '▁▅█');
  t.equal(sparkline([4, 4]), '▁▁', 'a flat line is the lowest bar');
});
