// Tests for the decoders: messages built by pg-protocol and by our encoders read back, malformed input yields null.
import t from 'tap';
import fc from 'fast-check';
// The package root loads its ESM wrapper, which tap's ts-node loader misreads as CommonJS.
import { serialize } from 'pg-protocol/dist/serializer';
import {
  cstring,
  decodeCancelRequest,
  decodeErrorFields,
  decodeParameterStatus,
  decodeParse,
  decodePassword,
  decodeQuery,
  decodeSASLInitialResponse,
  decodeStartup,
} from '../../../lib/protocol/decode.js';
import * as encode from '../../../lib/protocol/encode.js';
import { cstr, message } from '../../helpers/bytes.js';

const text = fc.string({ unit: 'binary', maxLength: 40 }).filter((s) => !s.includes('\0') && Buffer.from(s).toString() === s);

/** The same frame placed inside a larger buffer, so decoders must honour start and end. */
function embedded(frame: Buffer): { buf: Buffer; start: number; end: number } {
  const buf = Buffer.concat([Buffer.from('junk'), frame, Buffer.from('more\0junk\0')]);
  return { buf, start: 4, end: 4 + frame.length };
}

t.test('cstring', async (t) => {
  const b = Buffer.from('ab\0cd\0ef');
  t.same(cstring(b, 0, b.length), ['ab', 3]);
  t.same(cstring(b, 3, b.length), ['cd', 6]);
  t.equal(cstring(b, 6, b.length), null, 'unterminated');
  t.equal(cstring(b, 3, 5), null, 'the NUL must lie before end');
  t.same(cstring(b, 2, 3), ['', 3], 'empty string');
});

t.test('decodeStartup reads what pg-protocol writes', async (t) => {
  const s = decodeStartup(serialize.startup({ user: 'a', database: 'b', options: '-c x=ü' }));
  t.ok(s);
  t.same([s?.major, s?.minor], [3, 0]);
  t.same(Object.fromEntries(s?.params ?? []), { user: 'a', database: 'b', options: '-c x=ü', client_encoding: 'UTF8' });
  const v32 = Buffer.from([0, 0, 0, 9, 0, 3, 0, 2, 0]);
  t.same(decodeStartup(v32), { major: 3, minor: 2, params: new Map() }, 'minor version, no parameters');
});

t.test('decodeStartup returns null for malformed packets', async (t) => {
  const packet = (body: string): Buffer => {
    const b = Buffer.concat([Buffer.alloc(8), Buffer.from(body, 'latin1')]);
    b.writeInt32BE(b.length, 0);
    b.writeInt32BE(196608, 4);
    return b;
  };
  t.equal(decodeStartup(packet('')), null, 'no terminator');
  t.equal(decodeStartup(packet('user')), null, 'unterminated name');
  t.equal(decodeStartup(packet('user\0a')), null, 'unterminated value');
  t.equal(decodeStartup(packet('user\0a\0')), null, 'missing final NUL');
  t.equal(decodeStartup(packet('user\0')), null, 'name without value');
  t.equal(decodeStartup(Buffer.from([0, 0, 0, 4])), null, 'shorter than a version field');
  t.ok(decodeStartup(packet('user\0a\0\0')), 'the well-formed one passes');
  fc.assert(fc.property(fc.uint8Array({ maxLength: 40 }), (bytes) => void decodeStartup(Buffer.from(bytes))));
});

t.test('decodeCancelRequest', async (t) => {
  t.same(decodeCancelRequest(serialize.cancel(12345, -99)), { pid: 12345, secret: -99 });
  t.same(decodeCancelRequest(serialize.cancel(0x7fffffff, 0x7fffffff)), { pid: 0x7fffffff, secret: 0x7fffffff });
  t.equal(decodeCancelRequest(Buffer.alloc(12)), null, 'wrong size');
  t.equal(decodeCancelRequest(Buffer.alloc(20)), null, 'wrong size');
});

t.test('decodeQuery and decodeParse read what pg-protocol writes', async (t) => {
  fc.assert(
    fc.property(text, text, (sql, name) => {
      const q = embedded(serialize.query(sql));
      const p = embedded(serialize.parse({ name, text: sql, types: [23, 25] }));
      const parsed = decodeParse(p.buf, p.start, p.end);
      return decodeQuery(q.buf, q.start, q.end) === sql && parsed?.name === name && parsed.query === sql;
    }),
  );
  const unnamed = serialize.parse({ text: 'SELECT 1' });
  t.same(decodeParse(unnamed, 0, unnamed.length), { name: '', query: 'SELECT 1' }, 'unnamed');
});

t.test('decodeQuery and decodeParse return null for unterminated strings', async (t) => {
  const q = message('Q', 'SELECT 1');
  t.equal(decodeQuery(q, 0, q.length), null);
  const framed = embedded(q);
  t.equal(decodeQuery(framed.buf, framed.start, framed.end), null, 'a NUL after end does not count');
  const p1 = message('P', 'stmt');
  const p2 = message('P', Buffer.concat([cstr('stmt'), Buffer.from('SELECT 1')]));
  t.equal(decodeParse(p1, 0, p1.length), null, 'unterminated name');
  t.equal(decodeParse(p2, 0, p2.length), null, 'unterminated query');
  t.equal(decodeQuery(message('Q'), 0, 5), null, 'empty body');
});

t.test('decodeParameterStatus round-trips encode.parameterStatus', async (t) => {
  fc.assert(
    fc.property(text, text, (name, value) => {
      const f = embedded(encode.parameterStatus(name, value));
      const got = decodeParameterStatus(f.buf, f.start, f.end);
      return got !== null && got[0] === name && got[1] === value;
    }),
  );
  const half = message('S', cstr('TimeZone'));
  t.equal(decodeParameterStatus(half, 0, half.length), null, 'value missing');
  const none = message('S', 'TimeZone');
  t.equal(decodeParameterStatus(none, 0, none.length), null, 'name unterminated');
});

t.test('decodeErrorFields round-trips encode.errorResponse', async (t) => {
  fc.assert(
    fc.property(text, fc.option(text, { nil: undefined }), (msg, detail) => {
      const f = embedded(encode.errorResponse({ severity: 'ERROR', sqlstate: '42P01', message: msg, detail, hint: 'h' }));
      const got = decodeErrorFields(f.buf, f.start, f.end);
      return got.severity === 'ERROR' && got.code === '42P01' && got.message === msg && got.detail === (detail || undefined);
    }),
  );
  const localized = message('E', Buffer.concat([cstr('SFEHLER'), cstr('VERROR'), cstr('C22012'), cstr('Mx'), cstr('')]));
  t.match(decodeErrorFields(localized, 0, localized.length), { severity: 'ERROR', code: '22012', message: 'x' });
  const vFirst = message('E', Buffer.concat([cstr('VFATAL'), cstr('SFATAL-ish'), cstr('')]));
  t.equal(decodeErrorFields(vFirst, 0, vFirst.length).severity, 'FATAL', 'V wins over a localised S');
  const cut = message('E', Buffer.concat([cstr('SERROR'), cstr('C42000'), Buffer.from('Munterminated')]));
  t.same(
    decodeErrorFields(cut, 0, cut.length),
    { severity: 'ERROR', code: '42000', message: '' },
    'an unterminated field ends decoding without throwing',
  );
});

t.test('decodePassword', async (t) => {
  const p = serialize.password('sekrit');
  t.equal(decodePassword(p, 0, p.length), 'sekrit', 'the trailing NUL of PasswordMessage is dropped');
  const raw = serialize.sendSCRAMClientFinalMessage('c=biws,r=abc,p=xyz');
  t.equal(decodePassword(raw, 0, raw.length), 'c=biws,r=abc,p=xyz', 'SASLResponse has no NUL');
  t.equal(decodePassword(message('p'), 0, 5), '', 'empty body');
});

t.test('decodeSASLInitialResponse reads what pg-protocol writes', async (t) => {
  const f = embedded(serialize.sendSASLInitialResponseMessage('SCRAM-SHA-256', 'n,,n=,r=abcdef'));
  t.same(decodeSASLInitialResponse(f.buf, f.start, f.end), { mechanism: 'SCRAM-SHA-256', data: 'n,,n=,r=abcdef' });
  const noData = message('p', Buffer.concat([cstr('SCRAM-SHA-256'), Buffer.from([0xff, 0xff, 0xff, 0xff])]));
  t.same(decodeSASLInitialResponse(noData, 0, noData.length), { mechanism: 'SCRAM-SHA-256', data: '' }, 'length -1');
});

t.test('decodeSASLInitialResponse returns null for malformed frames', async (t) => {
  const cases: Record<string, Buffer> = {
    'unterminated mechanism': message('p', 'SCRAM-SHA-256'),
    'no length': message('p', cstr('SCRAM-SHA-256')),
    'short length': message('p', Buffer.concat([cstr('SCRAM-SHA-256'), Buffer.from([0, 0])])),
    'data shorter than its length': message('p', Buffer.concat([cstr('M'), Buffer.from([0, 0, 0, 9]), Buffer.from('abc')])),
  };
  for (const [name, frame] of Object.entries(cases)) {
    const f = embedded(frame);
    t.equal(decodeSASLInitialResponse(f.buf, f.start, f.end), null, name);
  }
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 30 }), (bytes) => {
      const frame = message('p', Buffer.from(bytes));
      void decodeSASLInitialResponse(frame, 0, frame.length);
    }),
  );
});
