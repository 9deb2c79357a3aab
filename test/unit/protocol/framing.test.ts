// Tests for FrameScanner: byte-exact relay under any chunking, delivery of interesting messages, framing errors.
import t from 'tap';
import fc from 'fast-check';
import { FrameScanner, interestTable, STREAM_HEAD, StartupReader, type FrameSink } from '../../../lib/protocol/framing.js';
import { bulk, header, message, readyForQuery, splitAt, sync } from '../../helpers/bytes.js';

const Z = 0x5a;
const S = 0x53;
const D = 0x44;
const KB100 = 100 * 1024;

interface Seen {
  type: number;
  bytes: Buffer;
  /** Bytes forwarded before the sink heard of this message. */
  forwardedBefore: number;
}

/** Copies everything it is given; the verdict decides each interesting message by its index. */
class Recorder implements FrameSink {
  readonly forwarded: Buffer[] = [];
  forwardedBytes = 0;
  emptyForwards = 0;
  readonly seen: Seen[] = [];
  readonly errors: Array<[string, number]> = [];

  constructor(private readonly verdict: (index: number, type: number) => boolean = () => true) {}

  onMessage(type: number, buf: Buffer, start: number, end: number): boolean {
    if (buf[start] !== type) throw new Error('type does not match the first byte');
    this.seen.push({ type, bytes: Buffer.from(buf.subarray(start, end)), forwardedBefore: this.forwardedBytes });
    return this.verdict(this.seen.length - 1, type);
  }

  forward(buf: Buffer, start: number, end: number): void {
    if (end <= start) this.emptyForwards++;
    this.forwarded.push(Buffer.from(buf.subarray(start, end)));
    this.forwardedBytes += end - start;
  }

  onFrameError(reason: 'length' | 'too_large', length: number): void {
    this.errors.push([reason, length]);
  }

  get output(): Buffer {
    return Buffer.concat(this.forwarded);
  }
}

interface MsgSpec {
  type: string;
  size: number;
  keep: boolean;
}

/** A stream and everything a correct scanner must make of it, given 'Z' and 'S' as interesting. */
function model(specs: readonly MsgSpec[]) {
  const frames = specs.map((m, i) => bulk(m.type, m.size, i));
  const interesting = (m: MsgSpec): boolean => m.type === 'Z' || m.type === 'S';
  const boundaries = new Set<number>([0]);
  const expected: Seen[] = [];
  const kept: Buffer[] = [];
  let offset = 0;
  let out = 0;
  specs.forEach((m, i) => {
    if (interesting(m)) expected.push({ type: m.type.charCodeAt(0), bytes: frames[i], forwardedBefore: out });
    if (!interesting(m) || m.keep) {
      kept.push(frames[i]);
      out += frames[i].length;
    }
    offset += frames[i].length;
    boundaries.add(offset);
  });
  const keepFlags = specs.filter(interesting).map((m) => m.keep);
  return { stream: Buffer.concat(frames), frames, expected, relayed: Buffer.concat(kept), boundaries, keepFlags };
}

/** Feeds chunks; after each, checks atBoundary and scribbles over the chunk, since the caller may reuse it. */
function feedAll(scanner: FrameScanner, chunks: Buffer[], boundaries?: Set<number>): boolean {
  let fed = 0;
  let boundaryOk = true;
  for (const c of chunks) {
    scanner.feed(c);
    fed += c.length;
    if (boundaries && scanner.atBoundary !== boundaries.has(fed)) boundaryOk = false;
    c.fill(0xee);
  }
  return boundaryOk;
}

const msgSpec = fc.record({
  type: fc.constantFrom('Z', 'S', 'D', 'C', 'T', 'Q', 'P', 'B', 'd'),
  size: fc.oneof(
    { weight: 3, arbitrary: fc.constant(0) },
    { weight: 10, arbitrary: fc.integer({ min: 1, max: 40 }) },
    { weight: 1, arbitrary: fc.constant(KB100) },
  ),
  keep: fc.boolean(),
});
const smallSpec = fc.record({ type: msgSpec.map((m) => m.type), size: fc.integer({ min: 0, max: 12 }), keep: fc.boolean() });

/** Cut points anywhere, and near message starts so that headers get split. */
const cutsFor = (frames: Buffer[]) =>
  fc.array(fc.oneof(fc.nat(), fc.tuple(fc.nat(), fc.integer({ min: -6, max: 6 }))), { maxLength: 40 }).map((raw) => {
    const starts: number[] = [];
    let at = 0;
    for (const f of frames) {
      starts.push(at);
      at += f.length;
    }
    return raw.map((c) => (typeof c === 'number' ? c % (at + 1) : starts[c[0] % starts.length] + c[1]));
  });

/** Throws naming every check that failed, so a fast-check counterexample says what broke. */
function expectAll(checks: Record<string, boolean>): void {
  const failed = Object.keys(checks).filter((k) => !checks[k]);
  if (failed.length > 0) throw new Error(`failed: ${failed.join('; ')}`);
}

function checkRelay(specs: MsgSpec[], chunksOf: (m: ReturnType<typeof model>) => Buffer[]): void {
  const m = model(specs);
  const sink = new Recorder((i) => m.keepFlags[i]);
  const scanner = new FrameScanner(sink, [Z, S]);
  const boundaryOk = feedAll(scanner, chunksOf(m), m.boundaries);
  expectAll({
    'forwarded bytes equal the stream minus dropped messages': sink.output.equals(m.relayed),
    'one onMessage per interesting message': sink.seen.length === m.expected.length,
    'exact type and bytes': sink.seen.every((s, i) => s.type === m.expected[i]?.type && s.bytes.equals(m.expected[i].bytes)),
    'earlier bytes forwarded before onMessage': sink.seen.every((s, i) => s.forwardedBefore === m.expected[i]?.forwardedBefore),
    'no empty forwards': sink.emptyForwards === 0,
    'no frame errors': sink.errors.length === 0,
    'atBoundary exactly at message boundaries': boundaryOk,
  });
}

t.test('relays byte-exactly and delivers each interesting message once, for any chunking', async (t) => {
  fc.assert(
    fc.property(
      fc.array(msgSpec, { minLength: 1, maxLength: 24 }).chain((specs) => {
        const frames = model(specs).frames;
        return fc.tuple(fc.constant(specs), cutsFor(frames));
      }),
      ([specs, cuts]) => checkRelay(specs, (m) => splitAt(m.stream, cuts)),
    ),
    { numRuns: 300 },
  );
  t.pass('forwarded bytes = stream minus dropped messages; onMessage once each, in order, before later bytes');
});

/** Records heads as well; every message is kept. */
class HeadRecorder extends Recorder {
  readonly heads: Array<{ type: number; bytes: Buffer; total: number }> = [];
  maxPending = 0;
  scanner: FrameScanner | null = null;

  /** Which large messages to gather whole after all, by their head. */
  constructor(private readonly gather: (head: Buffer) => boolean = () => false) {
    super();
  }

  gatherWhole(_type: number, buf: Buffer, start: number, end: number): boolean {
    return this.gather(buf.subarray(start, end));
  }

  onHead(type: number, buf: Buffer, start: number, end: number, total: number): boolean {
    this.heads.push({ type, bytes: Buffer.from(buf.subarray(start, end)), total });
    return true;
  }

  override forward(buf: Buffer, start: number, end: number): void {
    super.forward(buf, start, end);
    this.maxPending = Math.max(this.maxPending, this.scanner?.pendingBytes ?? 0);
  }
}

t.test('streaming: a large message spanning chunks is relayed as it arrives, the sink sees its head only', async (t) => {
  const above = 20_000;
  fc.assert(
    fc.property(
      fc
        .array(
          fc.record({
            type: fc.constantFrom('S', 'Z', 'D'),
            size: fc.oneof(fc.integer({ min: 0, max: 40 }), fc.constantFrom(above, KB100)),
          }),
          { minLength: 1, maxLength: 8 },
        )
        .chain((specs) => {
          const frames = specs.map((m, i) => bulk(m.type, m.size, i));
          return fc.tuple(fc.constant(frames), cutsFor(frames));
        }),
      ([frames, cuts]) => {
        // Large messages whose first body byte is odd are gathered whole after all (as a rewritten Bind would be).
        const gathered = (head: Buffer): boolean => (head[5] & 1) === 1;
        const rec = new HeadRecorder(gathered);
        const scanner = new FrameScanner(rec, [Z, S]);
        rec.scanner = scanner;
        scanner.setStreaming([S], above);
        const stream = Buffer.concat(frames);
        const chunks = splitAt(stream, cuts);
        feedAll(scanner, chunks);
        // Which S messages spanned chunks: those are streamed, the others delivered whole.
        const ends = new Set<number>();
        let at = 0;
        for (const c of chunks) ends.add((at += c.length));
        const expectedHeads: Buffer[] = [];
        const expectedWhole: Buffer[] = [];
        at = 0;
        for (const f of frames) {
          const spans = [...ends].some((e) => e > at && e < at + f.length);
          if (f[0] === S && f.length > above && spans && !gathered(f)) expectedHeads.push(f.subarray(0, STREAM_HEAD));
          else if (f[0] === S || f[0] === Z) expectedWhole.push(f);
          at += f.length;
        }
        expectAll({
          'byte-exact relay': rec.output.equals(stream),
          'heads are the first STREAM_HEAD bytes':
            rec.heads.length === expectedHeads.length && rec.heads.every((h, i) => h.bytes.equals(expectedHeads[i])),
          'heads carry the whole size': rec.heads.every((h) => h.total > above),
          'other messages whole': rec.seen.length === expectedWhole.length && rec.seen.every((m, i) => m.bytes.equals(expectedWhole[i])),
          'never gathers more than a head, unless told to': frames.some((f) => f[0] === S && gathered(f)) || rec.maxPending <= STREAM_HEAD,
          'ends at a boundary': scanner.atBoundary,
        });
      },
    ),
    { numRuns: 300 },
  );
  t.pass('relay is unchanged; a streamed message costs the scanner at most STREAM_HEAD bytes');
});

t.test('streaming: without setStreaming a large interesting message is gathered whole', async (t) => {
  const rec = new HeadRecorder();
  const scanner = new FrameScanner(rec, [S]);
  const big = bulk('S', KB100);
  feedAll(scanner, splitAt(big, [1000, 50_000]));
  t.equal(rec.heads.length, 0);
  t.equal(rec.seen.length, 1);
  t.ok(rec.seen[0].bytes.equals(big));
  t.equal(scanner.pendingBytes, 0, 'and nothing is kept once it was handed over');
});

t.test('one-byte chunks', async (t) => {
  const bytewise = (m: ReturnType<typeof model>): Buffer[] => [...m.stream].map((b) => Buffer.from([b]));
  fc.assert(
    fc.property(fc.array(smallSpec, { minLength: 1, maxLength: 30 }), (specs) => checkRelay(specs, bytewise)),
    { numRuns: 150 },
  );
  const big: MsgSpec[] = [
    { type: 'D', size: KB100, keep: true },
    { type: 'Z', size: KB100, keep: true },
    { type: 'S', size: 0, keep: false },
    { type: 'Z', size: KB100, keep: false },
    { type: 'C', size: 3, keep: true },
  ];
  t.doesNotThrow(() => checkRelay(big, bytewise), '100 KB bodies, a byte at a time');
  t.doesNotThrow(() => checkRelay(big, (m) => [m.stream]), 'the same stream in one chunk');
});

t.test('dropped messages never reach the output, accepted ones do', async (t) => {
  const q = bulk('Q', 20, 1);
  const z = readyForQuery('T');
  const s = sync();
  const sink = new Recorder((_, type) => type === S);
  const scanner = new FrameScanner(sink, [Z, S]);
  scanner.feed(Buffer.concat([q, z, s, z, q]));
  t.same(sink.output, Buffer.concat([q, s, q]));
  t.same(
    sink.seen.map((x) => x.type),
    [Z, S, Z],
  );
  t.ok(scanner.atBoundary);
});

t.test('pg-protocol style splits of a DataRow followed by ReadyForQuery', async (t) => {
  const dataRow = message('D', Buffer.from([0, 1, 0, 0, 0, 1, 0x21]));
  const full = Buffer.concat([dataRow, readyForQuery()]);
  const cases: Record<string, number[]> = {
    'not split': [],
    'in the middle': [full.length - 11],
    'at the front': [1, 4, 6],
    'at the end': [full.length - 8, full.length - 1],
  };
  for (const [name, splits] of Object.entries(cases)) {
    const shapes = splits.length === 0 ? [[]] : splits.map((s) => [s]);
    for (const cuts of shapes) {
      const label = cuts.length ? `${name} (byte ${cuts[0]})` : name;
      const sink = new Recorder();
      const scanner = new FrameScanner(sink, [Z]);
      feedAll(scanner, splitAt(full, cuts));
      t.same(sink.output, full, `${label}: relayed whole`);
      t.same(
        sink.seen.map((x) => x.bytes),
        [readyForQuery()],
        `${label}: ReadyForQuery delivered`,
      );
      t.equal(sink.seen[0].forwardedBefore, dataRow.length, `${label}: the DataRow went out first`);
      t.ok(scanner.atBoundary, `${label}: at a boundary`);
    }
  }
});

t.test('atBoundary tracks partial headers, bodies and interesting messages', async (t) => {
  const z = readyForQuery();
  const d = bulk('D', 10);
  const sink = new Recorder();
  const scanner = new FrameScanner(sink, [Z]);
  t.ok(scanner.atBoundary, 'fresh');
  scanner.feed(d.subarray(0, 3));
  t.notOk(scanner.atBoundary, 'inside a header');
  scanner.feed(d.subarray(3, 8));
  t.notOk(scanner.atBoundary, 'inside an uninteresting body');
  scanner.feed(Buffer.concat([d.subarray(8), z.subarray(0, 5)]));
  t.notOk(scanner.atBoundary, 'inside an interesting message');
  scanner.feed(z.subarray(5));
  t.ok(scanner.atBoundary, 'after the last byte');
  scanner.feed(Buffer.alloc(0));
  t.ok(scanner.atBoundary, 'an empty chunk changes nothing');
  t.same(sink.output, Buffer.concat([d, z]));
});

t.test('a length below 4 is a framing error, with what came before still relayed', async (t) => {
  for (const bad of [3, 0, -1]) {
    fc.assert(
      fc.property(fc.array(fc.nat(), { maxLength: 6 }), (cuts) => {
        const before = Buffer.concat([bulk('Q', 7), readyForQuery()]);
        const stream = Buffer.concat([before, header('D', bad), bulk('D', 30)]);
        const sink = new Recorder();
        const scanner = new FrameScanner(sink, [Z]);
        feedAll(
          scanner,
          splitAt(
            stream,
            cuts.map((c) => c % stream.length),
          ),
        );
        expectAll({
          'one length error': sink.errors.length === 1 && sink.errors[0][0] === 'length' && sink.errors[0][1] === bad,
          'messages before it relayed, nothing after': sink.output.equals(before),
          'only the ReadyForQuery before it delivered': sink.seen.length === 1,
        });
      }),
    );
  }
  t.pass('lengths 3, 0 and -1 report "length" once, for any split');
});

t.test('a length above the maximum stops the scanner for good', async (t) => {
  const ok = bulk('D', 96); // length 100: exactly the maximum
  const sink = new Recorder();
  const scanner = new FrameScanner(sink, [Z], 100);
  scanner.feed(Buffer.concat([ok, readyForQuery(), header('Z', 101)]));
  t.same(sink.errors, [['too_large', 101]]);
  t.same(sink.output, Buffer.concat([ok, readyForQuery()]), 'whole messages before the bad one are relayed');
  scanner.feed(Buffer.concat([bulk('D', 2), readyForQuery()]));
  t.equal(sink.seen.length, 1, 'nothing is delivered afterwards');
  t.equal(sink.output.length, ok.length + 6, 'nothing is forwarded afterwards');
  t.equal(sink.errors.length, 1, 'the error is reported once');
});

t.test('setMaxLength applies to the next header, even one split across chunks', async (t) => {
  const sink = new Recorder();
  const scanner = new FrameScanner(sink, []);
  const big = bulk('D', 200);
  scanner.feed(big.subarray(0, 2));
  scanner.setMaxLength(100);
  scanner.feed(big.subarray(2));
  t.same(sink.errors, [['too_large', 204]]);
  t.equal(sink.output.length, 0);
});

t.test('a bad length in a split header is reported the same way', async (t) => {
  const sink = new Recorder();
  const scanner = new FrameScanner(sink, [Z]);
  const bad = header('Z', 2);
  scanner.feed(bad.subarray(0, 2));
  t.same(sink.errors, [], 'no verdict on half a header');
  scanner.feed(bad.subarray(2));
  t.same(sink.errors, [['length', 2]]);
});

t.test('setInterest from onMessage applies to the following messages', async (t) => {
  const specs = [bulk('D', 4, 1), readyForQuery(), bulk('D', 4, 2), bulk('D', 4, 3), readyForQuery(), bulk('D', 4, 4)];
  const stream = Buffer.concat(specs);
  fc.assert(
    fc.property(fc.array(fc.nat({ max: stream.length }), { maxLength: 8 }), (cuts) => {
      let scanner: FrameScanner | null = null;
      const sink = new Recorder((_, type) => {
        // ReadyForQuery turns DataRow interest on; the first DataRow seen turns it off again.
        scanner?.setInterest(D, type === Z);
        return true;
      });
      scanner = new FrameScanner(sink, [Z]);
      feedAll(scanner, splitAt(stream, cuts));
      const seen = sink.seen.map((s) => s.bytes);
      const want = [specs[1], specs[2], specs[4], specs[5]];
      expectAll({
        'everything relayed': sink.output.equals(stream),
        'Z, first D after it, Z, first D after it': seen.length === 4 && seen.every((b, i) => b.equals(want[i])),
      });
    }),
  );
  const sink = new Recorder();
  const scanner = new FrameScanner(sink, [Z]);
  scanner.setInterest(Z, false);
  scanner.feed(readyForQuery());
  t.equal(sink.seen.length, 0, 'interest can be switched off between chunks');
});

t.test('fail() from onMessage stops everything after it, for any chunking', async (t) => {
  const frames = [bulk('Q', 6), readyForQuery(), bulk('D', 8), sync(), bulk('D', 8), readyForQuery()];
  const stream = Buffer.concat(frames);
  fc.assert(
    fc.property(fc.array(fc.nat({ max: stream.length }), { maxLength: 8 }), fc.boolean(), (cuts, accept) => {
      let scanner: FrameScanner | null = null;
      const sink = new Recorder((_, type) => {
        if (type === S) scanner?.fail();
        return accept;
      });
      scanner = new FrameScanner(sink, [Z, S]);
      feedAll(scanner, splitAt(stream, cuts));
      const relayed = Buffer.concat(accept ? frames.slice(0, 3) : [frames[0], frames[2]]);
      expectAll({
        'nothing relayed from the failing message on': sink.output.equals(relayed),
        'nothing delivered after it': sink.seen.length === 2,
      });
    }),
  );
  const sink = new Recorder();
  const scanner = new FrameScanner(sink, [Z]);
  scanner.fail();
  scanner.feed(readyForQuery());
  t.same([sink.seen.length, sink.output.length], [0, 0], 'a failed scanner ignores input');
});

/** An untyped startup-phase packet: int32 length counting itself, int32 code, then the rest. */
function startupPacket(code: number, rest: Buffer = Buffer.alloc(0)): Buffer {
  const b = Buffer.allocUnsafe(8);
  b.writeInt32BE(8 + rest.length, 0);
  b.writeInt32BE(code, 4);
  return Buffer.concat([b, rest]);
}

t.test('StartupReader gathers a packet split across chunks', async (t) => {
  const packet = startupPacket(196608, Buffer.from('user\0a\0\0'));
  for (let cut = 1; cut < packet.length; cut++) {
    const reader = new StartupReader(10000);
    t.equal(reader.push(Buffer.from(packet.subarray(0, cut))), null, `incomplete after ${cut} bytes`);
    t.same(reader.push(Buffer.from(packet.subarray(cut))), packet, `complete after the rest (cut at ${cut})`);
    t.equal(reader.rest(), null, 'nothing left over');
  }
});

t.test('StartupReader returns packets one at a time and keeps trailing bytes', async (t) => {
  const ssl = startupPacket(80877103);
  const startup = startupPacket(196608, Buffer.from('user\0a\0\0'));
  const typed = message('p', 'secret\0');
  const reader = new StartupReader(10000);
  t.same(reader.push(Buffer.concat([ssl, startup, typed])), ssl, 'the first packet');
  t.same(reader.take(), startup, 'take() returns the second');
  t.same(reader.rest(), typed, 'rest() hands back the typed bytes behind them');
  t.equal(reader.rest(), null, 'rest() empties the reader');
  t.equal(reader.take(), null, 'and take() then finds nothing');
});

t.test('StartupReader rejects impossible lengths', async (t) => {
  const tooShort = Buffer.from([0, 0, 0, 7, 1, 2, 3, 4]);
  t.throws(() => new StartupReader(100).push(tooShort), RangeError, 'below 8');
  t.throws(() => new StartupReader(100).push(Buffer.from([0, 0, 0, 101])), RangeError, 'above the maximum');
  t.throws(() => new StartupReader(100).push(Buffer.from([0xff, 0xff, 0xff, 0xff])), RangeError, 'negative');
  const reader = new StartupReader(100);
  t.equal(reader.push(Buffer.from([0, 0])), null, 'no verdict before the length is complete');
  t.throws(() => reader.push(Buffer.from([0, 2])), RangeError, 'then the verdict');
  t.equal(new StartupReader(100).push(startupPacket(1, Buffer.alloc(92)))?.length, 100, 'exactly the maximum is fine');
});

/** Counting: 'C' and 'T' counted, 'Z' and 'S' interesting; the counted message numbered stopAt is handed over. */
function checkCounting(specs: MsgSpec[], stopAt: number, cuts: number[]): void {
  const m = model(specs);
  const C = 0x43;
  const T = 0x54;
  const sink = new Recorder(() => true);
  const scanner = new FrameScanner(sink, [Z, S]);
  scanner.setCounting([C, T], true);
  scanner.stopAtCount(stopAt);
  // Where each counted message ends in the stream, in order.
  const countedEnds: number[] = [];
  let at = 0;
  for (const f of m.frames) {
    at += f.length;
    if (f[0] === C || f[0] === T) countedEnds.push(at);
  }
  let wholeWhenCounted = true;
  for (const chunk of splitAt(m.stream, cuts)) {
    scanner.feed(chunk);
    // Every message counted so far was forwarded in full already (the sink keeps handed-over ones too).
    const need = scanner.counted === 0 ? 0 : countedEnds[scanner.counted - 1];
    if (sink.forwardedBytes < need) wholeWhenCounted = false;
  }
  const stopped = sink.seen.filter((s) => s.type === C || s.type === T);
  const nth = stopAt >= 1 && stopAt <= countedEnds.length ? m.frames.filter((f) => f[0] === C || f[0] === T)[stopAt - 1] : null;
  expectAll({
    'the count is every counted message': scanner.counted === countedEnds.length,
    'exactly the stopAt-th counted message is handed over':
      nth === null ? stopped.length === 0 : stopped.length === 1 && stopped[0].bytes.equals(nth),
    'the stream is relayed unchanged': sink.output.equals(m.stream),
    'a counted message is whole when counted': wholeWhenCounted,
  });
}

t.test('counted types are counted without splitting the stream, and the stopAt-th is handed over', async (t) => {
  const specs = fc.array(
    msgSpec.map((s) => ({ ...s, keep: true })),
    { minLength: 1, maxLength: 25 },
  );
  fc.assert(
    fc.property(
      specs.chain((s) => fc.tuple(fc.constant(s), fc.integer({ min: 0, max: 12 }), cutsFor(s.map((m, i) => bulk(m.type, m.size, i))))),
      ([s, stopAt, cuts]) => checkCounting(s, stopAt, cuts),
    ),
    { numRuns: 300 },
  );
  t.pass('property held');
});

t.test('a counted message split across chunks is gathered, so it is never counted half forwarded', async (t) => {
  const frames = [bulk('D', 10), message('C', 'SELECT 1\0'), readyForQuery()];
  const stream = Buffer.concat(frames);
  const sink = new Recorder();
  const scanner = new FrameScanner(sink, [Z]);
  scanner.setCounting([0x43], true);
  const cut = frames[0].length + 3;
  scanner.feed(stream.subarray(0, cut));
  t.equal(scanner.counted, 0, 'not counted while its bytes are still arriving');
  t.equal(sink.forwardedBytes, frames[0].length, 'and none of it forwarded yet');
  scanner.feed(stream.subarray(cut));
  t.equal(scanner.counted, 1);
  t.ok(sink.output.equals(stream), 'then relayed whole, in order');
  scanner.setCounting([0x43], false);
  scanner.feed(message('C', 'SELECT 2\0'));
  t.equal(scanner.counted, 1, 'counting off: not counted');
});

t.test('scanners built from one shared interest table change their interest independently', async (t) => {
  const table = interestTable([Z]);
  const a = new Recorder();
  const b = new Recorder();
  const sa = new FrameScanner(a, table);
  const sb = new FrameScanner(b, table);
  sa.setInterest(D, true);
  sa.setCounting([0x43], true);
  const stream = Buffer.concat([bulk('D', 4), message('C', 'SELECT 1\0'), readyForQuery()]);
  sa.feed(stream);
  sb.feed(stream);
  t.same(
    a.seen.map((m) => m.type),
    [D, Z],
    'the changed scanner inspects D',
  );
  t.equal(sa.counted, 1, 'and counts C');
  t.same(
    b.seen.map((m) => m.type),
    [Z],
    'the other still sees only Z',
  );
  t.equal(sb.counted, 0, 'and counts nothing');
  t.equal(table[D], 0, 'the shared table itself is untouched');
  const c = new Recorder();
  new FrameScanner(c, table).feed(stream);
  t.same(
    c.seen.map((m) => m.type),
    [Z],
    'a scanner made later starts from the original table',
  );
  t.ok(a.output.equals(stream) && b.output.equals(stream), 'both relay the stream unchanged');
});
