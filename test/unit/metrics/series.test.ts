// Tests the plain-number series families: label escaping, cumulative buckets, chunked rendering and prom-client registry use.
import t from 'tap';
import { Registry } from 'prom-client';
import { HistogramFamily, ValueFamily } from '../../../lib/metrics/series.js';
import { parseExposition, samples } from '../../helpers/exposition.js';

t.test('a counter child is the same object for the same labels; values escape quotes, backslashes and newlines', async (t) => {
  const f = new ValueFamily('x_total', 'Help with a \\ backslash.', ['tenant'], 'counter');
  const a = f.child({ tenant: 'we"ird\\name\nnext' });
  t.equal(f.child({ tenant: 'we"ird\\name\nnext' }), a);
  a.inc();
  a.inc(2);
  const text = [...f.render()].join('\n');
  t.match(text, '# HELP x_total Help with a \\\\ backslash.');
  t.match(text, 'x_total{tenant="we\\"ird\\\\name\\nnext"} 3');
  const parsed = parseExposition(`${text}\n`);
  t.same(samples(parsed, 'x_total')[0]?.labels, { tenant: 'we"ird\\name\nnext' }, 'a parser gets the original value back');
});

t.test('histogram buckets are cumulative, bounds inclusive, with sum and count', async (t) => {
  const f = new HistogramFamily('h_seconds', 'h', ['k'], [0.1, 1]);
  const s = f.child({ k: 'a' });
  for (const v of [0.05, 0.1, 0.5, 3]) s.observe(v);
  const m = parseExposition(`${[...f.render()].join('\n')}\n`);
  t.same(
    samples(m, 'h_seconds_bucket').map((x) => [x.labels.le, x.value]),
    [
      ['0.1', 2],
      ['1', 3],
      ['+Inf', 4],
    ],
  );
  t.equal(samples(m, 'h_seconds_sum')[0]?.value, 3.65);
  t.equal(samples(m, 'h_seconds_count')[0]?.value, 4);
});

t.test('render yields at most perChunk series per piece; remove and reset drop series', async (t) => {
  const f = new ValueFamily('g', 'g', ['i'], 'gauge');
  for (let i = 0; i < 5; i++) f.child({ i: String(i) }).value = i;
  const chunks = [...f.render(2)];
  t.equal(chunks.length, 3);
  t.equal(
    chunks
      .join('\n')
      .split('\n')
      .filter((l) => l.startsWith('g{')).length,
    5,
  );
  f.remove({ i: '0' });
  t.equal(f.size, 4);
  f.reset();
  t.equal(f.size, 0);
});

t.test('a prom-client Registry renders the families too', async (t) => {
  const r = new Registry();
  new ValueFamily('c_total', 'c', ['a'], 'counter').register(r).child({ a: 'x' }).inc(4);
  const h = new HistogramFamily('d_seconds', 'd', [], [1]).register(r);
  h.child({}).observe(0.5);
  const m = parseExposition(await r.metrics());
  t.equal(samples(m, 'c_total', { a: 'x' })[0]?.value, 4);
  t.same(
    samples(m, 'd_seconds_bucket').map((x) => x.value),
    [1, 1],
  );
  t.equal(samples(m, 'd_seconds_count')[0]?.value, 1);
});
