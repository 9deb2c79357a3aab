// Counter, gauge and histogram families whose series are plain numbers: updates touch no label, scrapes reuse label text formatted once.
import type { Metric, Registry } from 'prom-client';

type Labels = Readonly<Record<string, string>>;

function escapeLabel(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

/** `{a="x",b="y"}` in labelNames order, or '' without labels. */
function labelText(names: readonly string[], labels: Labels, extra = ''): string {
  const parts = names.map((n) => `${n}="${escapeLabel(labels[n] ?? '')}"`);
  if (extra) parts.push(extra);
  return parts.length ? `{${parts.join(',')}}` : '';
}

function num(v: number): string {
  return Number.isNaN(v) ? 'NaN' : v === Infinity ? '+Inf' : v === -Infinity ? '-Inf' : `${v}`;
}

/**
 * prom-client's label children hash and validate their labels on every inc() and observe(), so they do
 * not make a hot path cheap. These families keep one object per label set instead; the caller holds on
 * to it, and an update is an addition. They join a prom-client Registry as collectors.
 */
abstract class Family<S extends { readonly labels: Labels }> {
  protected readonly series = new Map<string, S>();

  constructor(
    readonly name: string,
    readonly help: string,
    readonly labelNames: readonly string[],
    readonly type: 'counter' | 'gauge' | 'histogram',
  ) {}

  /** The series of a label set, created at 0 on first use. Hold on to it: this formats the labels. */
  child(labels: Labels): S {
    const key = labelText(this.labelNames, labels);
    let s = this.series.get(key);
    if (!s) this.series.set(key, (s = this.create(labels, key)));
    return s;
  }

  remove(labels: Labels): void {
    this.series.delete(labelText(this.labelNames, labels));
  }

  reset(): void {
    this.series.clear();
  }

  get size(): number {
    return this.series.size;
  }

  /**
   * The exposition block of this family in pieces of at most `perChunk` series, so a caller can let the
   * event loop run between pieces. Series added or removed meanwhile are seen or skipped, as Map iteration does.
   */
  *render(perChunk = Infinity): Generator<string> {
    let out = [`# HELP ${this.name} ${this.help.replace(/\\/g, '\\\\').replace(/\n/g, '\\n')}`, `# TYPE ${this.name} ${this.type}`];
    let n = 0;
    for (const s of this.series.values()) {
      this.lines(s, out);
      if (++n < perChunk) continue;
      yield out.join('\n');
      out = [];
      n = 0;
    }
    if (out.length > 0) yield out.join('\n');
  }

  /** Joins a registry, so registry.metrics() includes it too. */
  register(registry: Registry): this {
    registry.registerMetric(this as unknown as Metric);
    return this;
  }

  /** prom-client's collector interface (used by registry.metrics() and getMetricsAsJSON()). */
  get(): {
    name: string;
    help: string;
    type: string;
    aggregator: 'sum';
    values: Array<{ labels: Labels; value: number; metricName?: string }>;
  } {
    const values: Array<{ labels: Labels; value: number; metricName?: string }> = [];
    for (const s of this.series.values()) this.values(s, values);
    return { name: this.name, help: this.help, type: this.type, aggregator: 'sum', values };
  }

  protected abstract create(labels: Labels, text: string): S;
  protected abstract lines(s: S, out: string[]): void;
  protected abstract values(s: S, out: Array<{ labels: Labels; value: number; metricName?: string }>): void;
}

export class ValueSeries {
  value = 0;
  constructor(
    readonly labels: Labels,
    readonly text: string,
  ) {}

  inc(by = 1): void {
    this.value += by;
  }
}

/** A counter (only ever inc) or a gauge (set at scrape time). */
export class ValueFamily extends Family<ValueSeries> {
  constructor(name: string, help: string, labelNames: readonly string[], type: 'counter' | 'gauge') {
    super(name, help, labelNames, type);
  }

  protected create(labels: Labels, text: string): ValueSeries {
    return new ValueSeries(labels, text);
  }

  protected lines(s: ValueSeries, out: string[]): void {
    out.push(`${this.name}${s.text} ${num(s.value)}`);
  }

  protected values(s: ValueSeries, out: Array<{ labels: Labels; value: number }>): void {
    out.push({ labels: s.labels, value: s.value });
  }
}

export class HistogramSeries {
  /** Observations per bucket (not cumulative); the last one is +Inf. */
  readonly counts: Float64Array;
  sum = 0;
  count = 0;
  /** The bucket lines' prefixes `name_bucket{labels,le="b"}`, made once. */
  readonly bucketText: string[];

  constructor(
    readonly labels: Labels,
    readonly text: string,
    private readonly bounds: readonly number[],
    bucketText: string[],
  ) {
    this.counts = new Float64Array(bounds.length + 1);
    this.bucketText = bucketText;
  }

  observe(v: number): void {
    const b = this.bounds;
    let i = 0;
    while (i < b.length && v > b[i]!) i++;
    this.counts[i]!++;
    this.sum += v;
    this.count++;
  }

  /** Adds another series' observations (same family, so the same buckets). */
  absorb(from: HistogramSeries): void {
    for (let i = 0; i < this.counts.length; i++) this.counts[i]! += from.counts[i]!;
    this.sum += from.sum;
    this.count += from.count;
  }
}

export class HistogramFamily extends Family<HistogramSeries> {
  constructor(
    name: string,
    help: string,
    labelNames: readonly string[],
    readonly bounds: readonly number[],
  ) {
    super(name, help, labelNames, 'histogram');
  }

  protected create(labels: Labels, text: string): HistogramSeries {
    const les = [...this.bounds.map(num), '+Inf'];
    const buckets = les.map((le) => `${this.name}_bucket${labelText(this.labelNames, labels, `le="${le}"`)}`);
    return new HistogramSeries(labels, text, this.bounds, buckets);
  }

  protected lines(s: HistogramSeries, out: string[]): void {
    let acc = 0;
    for (let i = 0; i < s.counts.length; i++) {
      acc += s.counts[i]!;
      out.push(`${s.bucketText[i]} ${acc}`);
    }
    out.push(`${this.name}_sum${s.text} ${num(s.sum)}`, `${this.name}_count${s.text} ${s.count}`);
  }

  protected values(s: HistogramSeries, out: Array<{ labels: Labels; value: number; metricName?: string }>): void {
    let acc = 0;
    for (let i = 0; i < s.counts.length; i++) {
      acc += s.counts[i]!;
      const le = i < this.bounds.length ? this.bounds[i]! : '+Inf';
      out.push({ labels: { ...s.labels, le: String(le) }, value: acc, metricName: `${this.name}_bucket` });
    }
    out.push(
      { labels: s.labels, value: s.sum, metricName: `${this.name}_sum` },
      { labels: s.labels, value: s.count, metricName: `${this.name}_count` },
    );
  }
}

/** A family of this file, as opposed to one of prom-client's own (the process metrics). */
export function isOwnFamily(m: unknown): m is Family<{ readonly labels: Labels }> {
  return m instanceof Family;
}
