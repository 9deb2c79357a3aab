// Owns IP addresses as hba rules use them: parsing to bytes, prefix and dotted masks, and masked comparison.

/** An address or mask as network-order bytes: 4 for IPv4, 16 for IPv6. */
export type IpBytes = Uint8Array;

export interface IpNetwork {
  readonly family: 4 | 6;
  readonly addr: IpBytes;
  readonly mask: IpBytes;
}

const IPV4_PART = /^(0|[1-9][0-9]{0,2})$/;
// The first 80 bits zero, then 16 bits of ones: ::ffff:a.b.c.d, an IPv4 client seen through an IPv6 socket.
const V4_MAPPED_PREFIX = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff];

/** Dotted-quad IPv4, strictly (no octal, no shorthand), as inet_pton reads it. */
export function parseIpv4(text: string): IpBytes | null {
  const parts = text.split('.');
  if (parts.length !== 4) return null;
  const bytes = new Uint8Array(4);
  for (const [i, part] of parts.entries()) {
    if (!IPV4_PART.test(part)) return null;
    const n = Number(part);
    if (n > 255) return null;
    bytes[i] = n;
  }
  return bytes;
}

/** IPv6 in any textual form inet_pton accepts, including `::` and a trailing dotted IPv4. A zone (`%eth0`) is refused. */
export function parseIpv6(text: string): IpBytes | null {
  if (text.includes('%') || text.split('::').length > 2) return null;
  const [headText, tailText] = text.includes('::') ? (text.split('::') as [string, string]) : [text, undefined];
  const head = groupsOf(headText);
  const tail = tailText === undefined ? [] : groupsOf(tailText);
  if (head === null || tail === null) return null;
  const missing = 8 - head.length - tail.length;
  if (tailText === undefined ? missing !== 0 : missing < 1) return null;
  const groups = [...head, ...new Array<number>(tailText === undefined ? 0 : missing).fill(0), ...tail];
  const bytes = new Uint8Array(16);
  groups.forEach((g, i) => {
    bytes[2 * i] = g >> 8;
    bytes[2 * i + 1] = g & 0xff;
  });
  return bytes;
}

/** The 16-bit groups of one side of `::`; a dotted IPv4 may end it and counts as two groups. */
function groupsOf(text: string): number[] | null {
  if (text === '') return [];
  const parts = text.split(':');
  const groups: number[] = [];
  for (const [i, part] of parts.entries()) {
    if (i === parts.length - 1 && part.includes('.')) {
      const v4 = parseIpv4(part);
      if (v4 === null) return null;
      groups.push((v4[0]! << 8) | v4[1]!, (v4[2]! << 8) | v4[3]!);
    } else {
      if (!/^[0-9a-fA-F]{1,4}$/.test(part)) return null;
      groups.push(parseInt(part, 16));
    }
  }
  return groups;
}

/** Either family; IPv6 is tried first, as PgBouncer does, though no text is valid as both. */
export function parseIp(text: string): { family: 4 | 6; bytes: IpBytes } | null {
  const v6 = parseIpv6(text);
  if (v6 !== null) return { family: 6, bytes: v6 };
  const v4 = parseIpv4(text);
  return v4 === null ? null : { family: 4, bytes: v4 };
}

/** A mask of `bits` leading ones; null when bits is not a decimal number within the family's width. */
export function prefixMask(family: 4 | 6, bits: string): IpBytes | null {
  if (!/^[0-9]+$/.test(bits)) return null;
  const n = Number(bits);
  const width = family === 4 ? 32 : 128;
  if (n > width) return null;
  const mask = new Uint8Array(width / 8);
  for (let i = 0; i < mask.length; i++) mask[i] = 0xff & ~(0xff >> Math.max(0, Math.min(8, n - 8 * i)));
  return mask;
}

/** Whether the network's address has bits set outside its mask: such a rule can never match. */
export function hasHostBits(net: IpNetwork): boolean {
  return net.addr.some((byte, i) => (byte & ~net.mask[i]!) !== 0);
}

/**
 * The client's address as the rules see it. Node reports IPv4 clients of a dual-stack (`::`) listener
 * as `::ffff:a.b.c.d`; PgBouncer's IPv6 sockets are IPv6-only, so it sees those clients as plain IPv4,
 * and so must the rules here, or `127.0.0.1/32` would not match a local client of a `::` listener.
 */
export function clientAddress(text: string): { family: 4 | 6; bytes: IpBytes } | null {
  const parsed = parseIp(text);
  if (parsed === null || parsed.family === 4) return parsed;
  const mapped = V4_MAPPED_PREFIX.every((byte, i) => parsed.bytes[i] === byte);
  return mapped ? { family: 4, bytes: parsed.bytes.slice(12) } : parsed;
}

/** Whether a client address lies in a network; the families must agree (IPv4 rules never match IPv6 clients). */
export function inNetwork(net: IpNetwork, client: { family: 4 | 6; bytes: IpBytes }): boolean {
  if (net.family !== client.family) return false;
  return net.addr.every((byte, i) => (client.bytes[i]! & net.mask[i]!) === byte);
}

/** The text form of address bytes, for warnings. */
export function formatIp(family: 4 | 6, bytes: IpBytes): string {
  if (family === 4) return [...bytes].join('.');
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(((bytes[i]! << 8) | bytes[i + 1]!).toString(16));
  return groups.join(':');
}
