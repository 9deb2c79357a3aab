// The learned long lane: statement fingerprints whose average hold time exceeds a threshold, in bounded memory.
import { createRequire } from 'node:module';

export interface Fingerprinter {
  /** Resolves once fingerprint() may be called. */
  load(): Promise<void>;
  /** Statement text → fingerprint; throws on text it cannot parse. */
  fingerprint(sql: string): string;
}

export interface LaneLearnerOptions {
  /** Default: libpg-query's fingerprints. */
  fingerprinter?: Fingerprinter;
  /** Runs work after the current I/O callback (default setImmediate), so fingerprints stay off the relay path. */
  defer?: (fn: () => void) => void;
  /** Distinct statement shapes remembered (text → fingerprint), LRU. */
  maxShapes?: number;
  /** Distinct fingerprints with a hold-time average, LRU. */
  maxFingerprints?: number;
  /** Hold samples waiting for a fingerprint; more are dropped until the next batch. */
  maxPending?: number;
  /** Weight of the newest hold time in a fingerprint's average. */
  alpha?: number;
}

/** SQL text longer than this is keyed by its prefix: enough to tell statements apart, bounded in memory. */
const MAX_KEY_CHARS = 2048;
// Literals differ from call to call; replacing them keeps one key per statement shape before any parsing.
const LITERALS = /'(?:[^']|'')*'|\$\d+|\b\d+(?:\.\d+)?\b/g;
/** A hold counts for at most this many times a shape's average (at alpha 0.3 the average at most doubles per sample). */
const MAX_STEP = 4;
/** A long shape leaves the long lane when its average falls below threshold / this (see isLong). */
const LEAVE_DIVISOR = 4;
const TX_CONTROL = /^\s*(?:begin|start\s+transaction|commit|end|rollback|abort|savepoint|release)\b/i;

/** A fingerprint's hold-time average, whether it is in the long lane now, and one shape of it to show. */
interface Learned {
  avg: number;
  long: boolean;
  shape: string;
}

/** A statement shape learned as long, for SHOW CLASSES and the metrics. */
export interface LongShape {
  shape: string;
  avgMs: number;
}

interface Sample {
  key: string;
  sql: string;
  holdMs: number;
}

/**
 * Learns which statement shapes hold a slot long. The relay path only normalizes text and does two Map
 * lookups; libpg-query fingerprints are computed in deferred batches, a bounded number at a time.
 */
export class LaneLearner {
  private readonly shapes = new Map<string, string>();
  private readonly averages = new Map<string, Learned>();
  private pending: Sample[] = [];
  private scheduled = false;
  private loaded: Promise<void> | null = null;
  /** The parser failed to load: statements are told apart by their normalized text alone. */
  private noParser = false;
  private readonly o: Required<LaneLearnerOptions>;

  constructor(options: LaneLearnerOptions = {}) {
    this.o = {
      fingerprinter: options.fingerprinter ?? libpgQuery(),
      defer: (fn) => setImmediate(fn),
      maxShapes: 10_000,
      maxFingerprints: 5_000,
      maxPending: 1_000,
      alpha: 0.3,
      ...options,
    };
  }

  /** The key of a transaction's first statement, or null when it should not be learned (BEGIN, COMMIT...). */
  static keyOf(sql: string): string | null {
    return TX_CONTROL.test(sql) ? null : LaneLearner.shapeOf(sql);
  }

  /** A statement's text with its literals and parameters masked: the same shape whatever values it runs with. */
  static shapeOf(sql: string): string {
    const text = sql.length > MAX_KEY_CHARS ? sql.slice(0, MAX_KEY_CHARS) : sql;
    return text.replace(LITERALS, '?');
  }

  /**
   * Whether statements of this shape are known to hold a slot longer than `thresholdMs` on average. Once
   * long, a shape stays long until its average falls below a quarter of the threshold: in the long lane a
   * CPU-heavy statement runs with far less contention (a 0.1 s query held for seconds among 20 on 2 cores
   * holds ~0.15 s at the adaptive limit), and without this margin it would flap between the lanes (in the
   * short lane again it would flood every slot, and be learned again).
   */
  isLong(key: string, thresholdMs: number): boolean {
    const fp = this.shapes.get(key);
    if (fp === undefined) return false;
    const e = this.averages.get(fp);
    if (e === undefined) return false;
    e.long = e.avg > (e.long ? thresholdMs / LEAVE_DIVISOR : thresholdMs);
    return e.long;
  }

  /** The shapes now in the long lane (as isLong last judged them), slowest first, at most `max`. Walks: admin use only. */
  longShapes(max = 20): LongShape[] {
    const out: LongShape[] = [];
    for (const e of this.averages.values()) if (e.long) out.push({ shape: e.shape, avgMs: e.avg });
    return out.sort((a, b) => b.avgMs - a.avgMs).slice(0, max);
  }

  /** How many fingerprints are in the long lane now. Walks: scrape-time use only. */
  get longCount(): number {
    let n = 0;
    for (const e of this.averages.values()) if (e.long) n++;
    return n;
  }

  /** A transaction that started with this statement held its slot for `holdMs`. */
  observe(key: string, sql: string, holdMs: number): void {
    const fp = this.shapes.get(key);
    if (fp !== undefined) return this.record(fp, key, holdMs);
    if (this.pending.length >= this.o.maxPending) return;
    this.pending.push({ key, sql, holdMs });
    if (!this.scheduled) {
      this.scheduled = true;
      this.o.defer(() => void this.fingerprintPending());
    }
  }

  /** The learned average hold time of a statement shape, if known (for tests and the admin console). */
  averageMs(key: string): number | undefined {
    const fp = this.shapes.get(key);
    return fp === undefined ? undefined : this.averages.get(fp)?.avg;
  }

  get size(): { shapes: number; fingerprints: number; pending: number } {
    return { shapes: this.shapes.size, fingerprints: this.averages.size, pending: this.pending.length };
  }

  private async fingerprintPending(): Promise<void> {
    // The WASM parser loads once, on the first batch; samples keep queueing (bounded) meanwhile.
    this.loaded ??= this.o.fingerprinter.load().catch(() => void (this.noParser = true));
    await this.loaded;
    this.scheduled = false;
    const batch = this.pending;
    this.pending = [];
    for (const s of batch) {
      let fp = this.shapes.get(s.key);
      if (fp === undefined) {
        fp = this.fingerprintOf(s.sql, s.key);
        remember(this.shapes, s.key, fp, this.o.maxShapes);
      }
      this.record(fp, s.key, s.holdMs);
    }
  }

  private fingerprintOf(sql: string, key: string): string {
    if (this.noParser) return `shape:${key}`;
    try {
      return this.o.fingerprinter.fingerprint(sql);
    } catch {
      // Text libpg-query cannot parse (a multi-statement string with a syntax error, say) keeps its own shape.
      return `shape:${key}`;
    }
  }

  private record(fp: string, key: string, holdMs: number): void {
    const e = this.averages.get(fp);
    if (e === undefined) return remember(this.averages, fp, { avg: holdMs, long: false, shape: key }, this.o.maxFingerprints);
    // One stalled hold (a busy machine, a lock wait) must not make a quick statement long: each sample
    // counts for at most MAX_STEP times the average, so only holds that stay long move it far.
    e.avg += this.o.alpha * (Math.min(holdMs, e.avg * MAX_STEP) - e.avg);
    remember(this.averages, fp, e, this.o.maxFingerprints);
  }
}

/** Map as LRU: re-inserting moves a key to the end; the oldest entries go once over the bound. */
function remember<V>(map: Map<string, V>, key: string, value: V, max: number): void {
  map.delete(key);
  map.set(key, value);
  while (map.size > max) map.delete(map.keys().next().value!);
}

function libpgQuery(): Fingerprinter {
  // libpg-query ships CommonJS with a WASM parser: loadModule() once, then the sync calls work.
  const lib = createRequire(import.meta.url)('libpg-query') as { fingerprintSync(sql: string): string; loadModule(): Promise<void> };
  return { load: () => lib.loadModule(), fingerprint: (sql) => lib.fingerprintSync(sql) };
}
