// Tests for the backend message builders: exact frames, and pg-protocol's client parser reading them back.
import t from 'tap';
import fc from 'fast-check';
import * as encode from '../../../lib/protocol/encode.js';
import { parseBackend } from '../../helpers/bytes.js';

/** Text a C string can carry: valid UTF-16 (so UTF-8 round-trips) and no NUL. */
const text = fc.string({ unit: 'binary', maxLength: 40 }).filter((s) => !s.includes('\0') && Buffer.from(s).toString() === s);

/** The body of a frame, after checking its type byte and that its length field counts itself and the body. */
function bodyOf(frame: Buffer, type: string): Buffer {
  if (String.fromCharCode(frame[0]) !== type) throw new Error(`type ${String.fromCharCode(frame[0])}, want ${type}`);
  const declared = frame.readInt32BE(1);
  if (declared !== frame.length - 1) throw new Error(`length field ${declared}, frame of ${frame.length} bytes`);
  return frame.subarray(5);
}

t.test('constant frames', async (t) => {
  t.same(encode.AuthenticationOk, Buffer.from([0x52, 0, 0, 0, 8, 0, 0, 0, 0]));
  t.same(encode.AuthenticationCleartextPassword, Buffer.from([0x52, 0, 0, 0, 8, 0, 0, 0, 3]));
  t.same(encode.ReadyForQueryIdle, Buffer.from([0x5a, 0, 0, 0, 5, 0x49]));
  t.same(encode.EmptyQueryResponse, Buffer.from([0x49, 0, 0, 0, 4]));
  t.same([encode.SSLAccept.toString(), encode.SSLRefuse.toString()], ['S', 'N']);
  t.match(parseBackend(encode.AuthenticationOk, encode.AuthenticationCleartextPassword, encode.EmptyQueryResponse), [
    { name: 'authenticationOk' },
    { name: 'authenticationCleartextPassword' },
    { name: 'emptyQuery' },
  ]);
});

t.test('readyForQuery', async (t) => {
  t.equal(encode.readyForQuery(0x49), encode.ReadyForQueryIdle, 'idle reuses the constant frame');
  t.match(parseBackend(encode.readyForQuery(0x54), encode.readyForQuery(0x45)), [
    { name: 'readyForQuery', status: 'T' },
    { name: 'readyForQuery', status: 'E' },
  ]);
});

t.test('authentication requests', async (t) => {
  const salt = Buffer.from([1, 2, 0xfe, 0xff]);
  const md5 = encode.authenticationMD5Password(salt);
  t.same(bodyOf(md5, 'R'), Buffer.from([0, 0, 0, 5, 1, 2, 0xfe, 0xff]));
  const sasl = encode.authenticationSASL(['SCRAM-SHA-256', 'SCRAM-SHA-256-PLUS']);
  t.same(bodyOf(sasl, 'R'), Buffer.from('\0\0\0\x0aSCRAM-SHA-256\0SCRAM-SHA-256-PLUS\0\0', 'latin1'));
  t.match(parseBackend(md5, sasl, encode.authenticationSASLContinue('r=abc,s=c2FsdA==,i=4096'), encode.authenticationSASLFinal('v=sig')), [
    { name: 'authenticationMD5Password', salt },
    { name: 'authenticationSASL', mechanisms: ['SCRAM-SHA-256', 'SCRAM-SHA-256-PLUS'] },
    { name: 'authenticationSASLContinue', data: 'r=abc,s=c2FsdA==,i=4096' },
    { name: 'authenticationSASLFinal', data: 'v=sig' },
  ]);
});

t.test('parameterStatus and backendKeyData', async (t) => {
  fc.assert(
    fc.property(text, text, (name, value) => {
      const [m] = parseBackend(encode.parameterStatus(name, value));
      return (
        m.name === 'parameterStatus' &&
        (m as unknown as { parameterName: string }).parameterName === name &&
        (m as unknown as { parameterValue: string }).parameterValue === value
      );
    }),
  );
  t.match(parseBackend(encode.backendKeyData(4242, -7)), [{ name: 'backendKeyData', processID: 4242, secretKey: -7 }]);
  t.same(bodyOf(encode.parameterStatus('é', ''), 'S'), Buffer.from('é\0\0'), 'multi-byte names count bytes');
});

t.test('errorResponse and notices', async (t) => {
  const err = encode.errorResponse({
    severity: 'FATAL',
    sqlstate: '28P01',
    message: 'password authentication failed for user "ø"',
    detail: 'd',
    hint: 'h',
  });
  t.match(parseBackend(err), [
    {
      name: 'error',
      severity: 'FATAL',
      code: '28P01',
      message: 'password authentication failed for user "ø"',
      detail: 'd',
      hint: 'h',
    },
  ]);
  const notice = encode.errorResponse({ severity: 'WARNING', sqlstate: '01000', message: 'careful' }, true);
  const [n] = parseBackend(notice);
  t.match(n, { name: 'notice', severity: 'WARNING', code: '01000', message: 'careful' });
  t.match(n, { detail: undefined, hint: undefined }, 'absent detail and hint are not sent');
  t.ok(bodyOf(notice, 'N').includes(Buffer.from('VWARNING\0')), 'the non-localised severity is sent too');
  fc.assert(
    fc.property(text, text, (message, detail) => {
      const [m] = parseBackend(encode.errorResponse({ severity: 'ERROR', sqlstate: 'XX000', message, detail }));
      const got = m as unknown as { message: string; detail?: string };
      return got.message === message && got.detail === (detail || undefined);
    }),
  );
});

t.test('rowDescription, dataRow and commandComplete as a client reads them', async (t) => {
  const frames = [
    encode.rowDescription([
      { name: 'database', typeOid: 25 },
      { name: 'clients', typeOid: 20 },
    ]),
    encode.dataRow(['app', '3']),
    encode.dataRow([null, '']),
    encode.commandComplete('SHOW'),
  ];
  t.match(parseBackend(...frames), [
    {
      name: 'rowDescription',
      fieldCount: 2,
      fields: [
        {
          name: 'database',
          tableID: 0,
          columnID: 0,
          dataTypeID: 25,
          dataTypeSize: -1,
          dataTypeModifier: -1,
          format: 'text',
        },
        { name: 'clients', dataTypeID: 20, format: 'text' },
      ],
    },
    { name: 'dataRow', fields: ['app', '3'] },
    { name: 'dataRow', fields: [null, ''] },
    { name: 'commandComplete', text: 'SHOW' },
  ]);
  fc.assert(
    fc.property(fc.array(fc.option(text), { maxLength: 8 }), text, (values, tag) => {
      const cols = values.map((_, i) => ({ name: `c${i}`, typeOid: 25 + i }));
      const frames = [encode.rowDescription(cols), encode.dataRow(values), encode.commandComplete(tag)];
      const [desc, row, done] = parseBackend(...frames);
      const d = desc as unknown as { fields: { name: string; dataTypeID: number }[] };
      return (
        d.fields.length === cols.length &&
        d.fields.every((f, i) => f.name === cols[i].name && f.dataTypeID === cols[i].typeOid) &&
        JSON.stringify((row as unknown as { fields: unknown[] }).fields) === JSON.stringify(values) &&
        (done as unknown as { text: string }).text === tag
      );
    }),
  );
  t.same(bodyOf(encode.rowDescription([]), 'T'), Buffer.from([0, 0]), 'no columns');
  t.same(bodyOf(encode.dataRow([]), 'D'), Buffer.from([0, 0]), 'no values');
});

t.test('negotiateProtocolVersion', async (t) => {
  const none = bodyOf(encode.negotiateProtocolVersion(0, []), 'v');
  t.same(none, Buffer.from([0, 0, 0, 0, 0, 0, 0, 0]));
  const body = bodyOf(encode.negotiateProtocolVersion(0, ['_pq_.a', '_pq_.bé']), 'v');
  t.equal(body.readInt32BE(0), 0, 'newest minor version');
  t.equal(body.readInt32BE(4), 2, 'option count');
  t.equal(body.subarray(8).toString(), '_pq_.a\0_pq_.bé\0', 'option names, each NUL-terminated');
});
