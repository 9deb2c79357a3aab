// Tests for the IP parsing and masking that hba rules use.
import t from 'tap';
import {
  clientAddress,
  formatIp,
  hasHostBits,
  inNetwork,
  parseIp,
  parseIpv4,
  parseIpv6,
  prefixMask,
} from '../../../lib/config/hba-address.js';

const hex = (b: Uint8Array | null) => (b === null ? null : Buffer.from(b).toString('hex'));

t.test('IPv4 parsing is strict', async (t) => {
  t.equal(hex(parseIpv4('192.168.0.1')), 'c0a80001');
  for (const bad of ['256.0.0.1', '1.2.3', '01.2.3.4', '1.2.3.4.5', '', 'a.b.c.d', '1..2.3']) t.equal(parseIpv4(bad), null, bad);
});

t.test('IPv6 parsing covers the textual forms', async (t) => {
  t.equal(hex(parseIpv6('::1')), '00000000000000000000000000000001');
  t.equal(hex(parseIpv6('::')), '00000000000000000000000000000000');
  t.equal(hex(parseIpv6('2001:db8::')), '20010db8000000000000000000000000');
  t.equal(hex(parseIpv6('fe80::1:2')), 'fe800000000000000000000000010002');
  t.equal(hex(parseIpv6('::ffff:10.0.0.1')), '00000000000000000000ffff0a000001');
  t.equal(hex(parseIpv6('1:2:3:4:5:6:7:8')), '00010002000300040005000600070008');
  for (const bad of ['1:2:3:4:5:6:7', '1::2::3', '1:2:3:4:5:6:7:8:9', '1:2:3:4::5:6:7:8', 'fe80::1%eth0', '12345::', 'g::1', '::1.2.3']) {
    t.equal(parseIpv6(bad), null, bad);
  }
  t.same(parseIp('10.0.0.1')?.family, 4);
  t.same(parseIp('::1')?.family, 6);
  t.equal(parseIp('localhost'), null);
});

t.test('prefix masks', async (t) => {
  t.equal(hex(prefixMask(4, '0')), '00000000');
  t.equal(hex(prefixMask(4, '20')), 'fffff000');
  t.equal(hex(prefixMask(4, '32')), 'ffffffff');
  t.equal(hex(prefixMask(6, '65')), 'ffffffffffffffff8000000000000000');
  t.equal(prefixMask(4, '33'), null);
  t.equal(prefixMask(6, '129'), null);
  t.equal(prefixMask(4, '1x'), null);
  t.equal(prefixMask(4, ''), null);
});

t.test('matching, mapped clients and host bits', async (t) => {
  const net = { family: 4 as const, addr: parseIpv4('10.0.0.0')!, mask: prefixMask(4, '8')! };
  t.ok(inNetwork(net, clientAddress('10.200.1.1')!));
  t.ok(inNetwork(net, clientAddress('::ffff:10.200.1.1')!), 'an IPv4-mapped client is IPv4');
  t.notOk(inNetwork(net, clientAddress('11.0.0.1')!));
  t.notOk(inNetwork(net, clientAddress('::1')!));
  t.notOk(hasHostBits(net));
  t.ok(hasHostBits({ ...net, addr: parseIpv4('10.0.0.1')! }));
  t.equal(clientAddress('nonsense'), null);
  t.equal(formatIp(4, net.addr), '10.0.0.0');
  t.equal(formatIp(6, parseIpv6('2001:db8::1')!), '2001:db8:0:0:0:0:0:1');
});
