// Owns a raw client's login (SCRAM-SHA-256 or md5, as Sluice asks), optionally broken at one point of the exchange.
import { md5ClientResponse } from '../../lib/auth/md5.js';
import { ScramClientSession, SCRAM_MECHANISM } from '../../lib/auth/scram.js';
import { serialize } from '../../lib/protocol/pg-protocol.js';
import { drawSplit, type BackendMsg, type WireSocket } from './wire-socket.js';
import type { Prng } from './prng.js';

export interface Credentials {
  user: string;
  password: string;
  database: string;
  applicationName: string;
}

/** Where a hostile login breaks off; `none` logs in properly. */
export const LOGIN_FAULTS = [
  'none',
  'vanish-after-startup',
  'half-close-after-startup',
  'truncated-startup',
  'wrong-password',
  'garbage-password',
  'vanish-mid-scram',
  'old-protocol',
  'stray-cancel',
  'garbage-startup',
] as const;
export type LoginFault = (typeof LOGIN_FAULTS)[number];

export type LoginOutcome = 'ready' | 'refused' | 'abandoned';

const LOGIN_WAIT_MS = 10_000;

const isAuthStep = (m: BackendMsg) => m.name.startsWith('authentication') || m.name === 'error' || m.name === 'readyForQuery';

/** A startup-phase packet other than a proper startup: Sluice must refuse it or close, and nothing else. */
function oddStartup(fault: LoginFault, cred: Credentials, rng: Prng | null): Buffer | null {
  const draw = (n: number) => rng?.int(n) ?? 0;
  switch (fault) {
    case 'old-protocol': {
      const packet = Buffer.from(serialize.startup({ user: cred.user, database: cred.database }));
      packet.writeInt32BE(draw(2) ? 0x0002_0000 : 0x0004_0000, 4); // protocol 2.0, or a major version from the future
      return packet;
    }
    case 'stray-cancel':
      return serialize.cancel(draw(0x7fffffff), draw(0x7fffffff));
    case 'garbage-startup': {
      const packet = Buffer.concat([Buffer.alloc(4), rng?.bytes(4 + draw(60)) ?? Buffer.alloc(8)]);
      packet.writeInt32BE(packet.length, 0);
      return packet;
    }
    default:
      return null;
  }
}

/** Logs in through the first ReadyForQuery, with writes split by `rng` (null: whole writes). */
export async function login(sock: WireSocket, cred: Credentials, rng: Prng | null, fault: LoginFault = 'none'): Promise<LoginOutcome> {
  const send = (bytes: Buffer) => sock.send(bytes, rng ? drawSplit(rng, bytes.length) : undefined);
  const odd = oddStartup(fault, cred, rng);
  if (odd) {
    await send(odd);
    const { messages } = await sock.until((m) => m.name === 'error', LOGIN_WAIT_MS);
    return messages.some((m) => m.name === 'error') ? 'refused' : 'abandoned';
  }
  const startup = serialize.startup({ user: cred.user, database: cred.database, application_name: cred.applicationName });
  if (fault === 'truncated-startup') {
    await sock.send(startup.subarray(0, 1 + (rng?.int(startup.length - 1) ?? 0)));
    sock.halfClose();
    return 'abandoned';
  }
  await send(startup);
  if (fault === 'vanish-after-startup') return (sock.destroy(), 'abandoned');
  if (fault === 'half-close-after-startup') return (sock.halfClose(), 'abandoned');
  let scram: ScramClientSession | null = null;
  for (;;) {
    const { messages, complete } = await sock.until(isAuthStep, LOGIN_WAIT_MS);
    const m = messages[messages.length - 1];
    if (!complete || !m) return 'abandoned';
    if (m.name === 'error') return 'refused';
    if (m.name === 'readyForQuery') return 'ready';
    const password = fault === 'wrong-password' ? `${cred.password}x` : cred.password;
    if (fault === 'garbage-password' && m.name !== 'authenticationOk') {
      await send(Buffer.concat([Buffer.from('p'), Buffer.from([0, 0, 0, 12]), rng?.bytes(8) ?? Buffer.alloc(8)]));
      continue;
    }
    if (m.name === 'authenticationMD5Password') {
      await send(serialize.password(md5ClientResponse(cred.user, password, m.salt as Buffer)));
    } else if (m.name === 'authenticationSASL') {
      scram = new ScramClientSession({ user: cred.user, password });
      await send(serialize.sendSASLInitialResponseMessage(SCRAM_MECHANISM, scram.clientFirst()));
      if (fault === 'vanish-mid-scram') return (sock.destroy(), 'abandoned');
    } else if (m.name === 'authenticationSASLContinue' && scram) {
      await send(serialize.sendSCRAMClientFinalMessage(scram.serverFirst(m.data as string)));
    }
    // authenticationOk and SASLFinal: keep reading through to ReadyForQuery.
  }
}
