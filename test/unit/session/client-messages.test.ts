// Tests which message types a logged-in client may send, what the session inspects, and how a bad type is named.
import t from 'tap';
import { Frontend } from '../../../lib/protocol/codes.js';
import { describeType, INSPECTED_CLIENT_TYPES, KNOWN_CLIENT_TYPES, refusalOf } from '../../../lib/session/client-messages.js';

t.test('every frontend message of the protocol after login is known; startup-only and server types are not', async (t) => {
  for (const type of [
    Frontend.Query,
    Frontend.Parse,
    Frontend.Bind,
    Frontend.Execute,
    Frontend.Sync,
    Frontend.CopyData,
    Frontend.Terminate,
  ]) {
    t.equal(KNOWN_CLIENT_TYPES[type], 1, String.fromCharCode(type));
  }
  for (const c of ['Z', 'T', 'R', '\0', 'x']) t.equal(KNOWN_CLIENT_TYPES[c.charCodeAt(0)], 0, JSON.stringify(c));
});

t.test('CopyData alone is relayed without a look; unknown types are inspected so they can be refused', async (t) => {
  t.notOk(INSPECTED_CLIENT_TYPES.includes(Frontend.CopyData));
  t.ok(INSPECTED_CLIENT_TYPES.includes(Frontend.Query));
  t.ok(INSPECTED_CLIENT_TYPES.includes(0x7a), 'an unknown type');
  t.equal(INSPECTED_CLIENT_TYPES.length, 255);
});

t.test('describeType prints a letter when printable, else hex', async (t) => {
  t.equal(describeType(0x51), "'Q'");
  t.equal(describeType(0x00), '0x00');
  t.equal(describeType(0xff), '0xff');
});

t.test('refusalOf: a Password message after login is a bad packet, an unknown type is named, known types pass', async (t) => {
  t.match(refusalOf(Frontend.Password), {
    code: 'SLUICE_BAD_PACKET',
    sqlstate: '08P01',
    message: /password message outside authentication/,
  });
  t.match(refusalOf(0x7a), { code: 'SLUICE_UNKNOWN_MESSAGE', sqlstate: '08P01', message: /'z'/ });
  t.equal(refusalOf(Frontend.Flush), null);
  t.equal(refusalOf(Frontend.CopyDone), null);
});
