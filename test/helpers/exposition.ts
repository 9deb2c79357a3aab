// A strict parser of the Prometheus text exposition format, plus promtool when it is installed, for asserting on /metrics.
import { run } from './run.js';

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export interface Family {
  name: string;
  help: string;
  type: string;
  samples: Sample[];
}

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const SUFFIXES: Record<string, readonly string[]> = { histogram: ['_bucket', '_sum', '_count'], summary: ['', '_sum', '_count'] };

/** Parses the text format; throws on anything malformed, on samples outside their family and on duplicate series. */
export function parseExposition(text: string): Map<string, Family> {
  const families = new Map<string, Family>();
  const seen = new Set<string>();
  let current: Family | null = null;
  for (const [i, line] of text.split('\n').entries()) {
    if (line === '') continue;
    const where = `line ${i + 1}: ${line.slice(0, 120)}`;
    const meta = /^# (HELP|TYPE) (\S+) ?(.*)$/.exec(line);
    if (meta) {
      const [, kind, name, rest] = meta as unknown as [string, string, string, string];
      if (!NAME.test(name)) throw new Error(`bad metric name, ${where}`);
      const f = families.get(name) ?? { name, help: '', type: 'untyped', samples: [] };
      if (kind === 'HELP') f.help = rest;
      else f.type = rest;
      families.set(name, f);
      current = f;
      continue;
    }
    if (line.startsWith('#')) continue;
    const s = parseSample(line, where);
    const f = current;
    const suffixes = f ? (SUFFIXES[f.type] ?? ['']) : [];
    if (!f || !suffixes.some((x) => s.name === f.name + x)) throw new Error(`sample outside its family, ${where}`);
    const key = `${s.name}${JSON.stringify(Object.entries(s.labels).sort())}`;
    if (seen.has(key)) throw new Error(`duplicate series, ${where}`);
    seen.add(key);
    f.samples.push(s);
  }
  return families;
}

function parseSample(line: string, where: string): Sample {
  const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)( \d+)?$/.exec(line);
  if (!m) throw new Error(`malformed sample, ${where}`);
  const labels: Record<string, string> = {};
  let rest = m[3] ?? '';
  while (rest.length > 0) {
    const l = /^([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)",?/.exec(rest);
    if (!l) throw new Error(`malformed labels, ${where}`);
    labels[l[1]!] = l[2]!.replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c));
    rest = rest.slice(l[0].length);
  }
  // Prometheus reads values with Go's ParseFloat: NaN and Inf in any case (prom-client writes "Nan").
  const raw = m[4]!.toLowerCase();
  const value = raw === '+inf' || raw === 'inf' ? Infinity : raw === '-inf' ? -Infinity : Number(raw);
  if (Number.isNaN(value) && raw !== 'nan') throw new Error(`bad value, ${where}`);
  return { name: m[1]!, labels, value };
}

/** Samples named `name` whose labels include every pair of `match`. */
export function samples(families: Map<string, Family>, name: string, match: Record<string, string> = {}): Sample[] {
  const out: Sample[] = [];
  for (const f of families.values()) {
    for (const s of f.samples) {
      if (s.name === name && Object.entries(match).every(([k, v]) => s.labels[k] === v)) out.push(s);
    }
  }
  return out;
}

/** The sum of the matching samples (0 when there are none). */
export function total(families: Map<string, Family>, name: string, match: Record<string, string> = {}): number {
  return samples(families, name, match).reduce((a, s) => a + s.value, 0);
}

/** `promtool check metrics` on the text; null when promtool is not installed. */
export async function promtoolCheck(text: string): Promise<{ code: number | null; out: string } | null> {
  try {
    const r = await run('promtool', ['check', 'metrics'], { input: text, timeoutMs: 30_000 });
    return { code: r.code, out: `${r.out}\n${r.err}`.trim() };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
}
