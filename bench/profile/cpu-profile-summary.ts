// Reads a V8 .cpuprofile (node --cpu-prof) and sums self time per function and per file, to find what costs.
import { readFile } from 'node:fs/promises';
import path from 'node:path';

/** The parts of the .cpuprofile JSON this reads. */
export interface CpuProfile {
  nodes: { id: number; callFrame: { functionName: string; url: string; lineNumber: number }; hitCount?: number }[];
  samples?: number[];
  timeDeltas?: number[];
  startTime: number;
  endTime: number;
}

export interface SelfTime {
  key: string;
  ms: number;
  /** Share of all sampled time, 0..1. */
  share: number;
}

function shortUrl(url: string): string {
  if (!url) return '(native)';
  const clean = url.replace(/^file:\/\//, '');
  const i = clean.lastIndexOf('/node_modules/');
  if (i >= 0) return clean.slice(i + 1);
  const dist = clean.search(/\/dist(?:-bench)?\//);
  return dist >= 0 ? clean.slice(dist + 1) : clean.startsWith('node:') ? clean : path.basename(clean);
}

/** Sample time per node id: each sample is charged the delta to the next sample (the last gets none). */
function timePerNode(p: CpuProfile): Map<number, number> {
  const out = new Map<number, number>();
  const samples = p.samples ?? [];
  const deltas = p.timeDeltas ?? [];
  for (let i = 0; i < samples.length; i++) {
    const us = i + 1 < deltas.length ? deltas[i + 1]! : 0;
    out.set(samples[i]!, (out.get(samples[i]!) ?? 0) + us);
  }
  return out;
}

/** Self time summed by function (name, file and line) or, with byFile, by file; largest first. */
export function selfTimes(p: CpuProfile, byFile = false): SelfTime[] {
  const perNode = timePerNode(p);
  const sums = new Map<string, number>();
  let total = 0;
  for (const n of p.nodes) {
    const us = perNode.get(n.id) ?? 0;
    if (us === 0) continue;
    total += us;
    const f = n.callFrame;
    const file = shortUrl(f.url);
    const key = byFile ? file : `${f.functionName || '(anonymous)'} ${file}${f.url ? `:${f.lineNumber + 1}` : ''}`;
    sums.set(key, (sums.get(key) ?? 0) + us);
  }
  return [...sums].map(([key, us]) => ({ key, ms: us / 1000, share: total > 0 ? us / total : 0 })).sort((a, b) => b.ms - a.ms);
}

function render(rows: SelfTime[], top: number): string {
  return rows
    .slice(0, top)
    .map((r) => `${r.ms.toFixed(1).padStart(9)} ms ${(r.share * 100).toFixed(1).padStart(5)}%  ${r.key}`)
    .join('\n');
}

async function main(argv: string[]): Promise<void> {
  const files = argv.filter((a) => !a.startsWith('--'));
  const top = Number(argv.find((a) => a.startsWith('--top='))?.slice(6) ?? 40);
  if (files.length === 0) throw new Error('usage: node dist-bench/bench/profile/cpu-profile-summary.js FILE.cpuprofile ... [--top=N]');
  for (const file of files) {
    const p = JSON.parse(await readFile(file, 'utf8')) as CpuProfile;
    console.log(
      `== ${file}: ${((p.endTime - p.startTime) / 1e6).toFixed(1)} s profiled\n-- self time by function\n${render(selfTimes(p), top)}`,
    );
    console.log(`-- self time by file\n${render(selfTimes(p, true), 20)}\n`);
  }
}

if (process.argv[1] && import.meta.url === `file://${path.resolve(process.argv[1])}`) {
  main(process.argv.slice(2)).catch((err: Error) => {
    console.error(err.message);
    process.exit(1);
  });
}
