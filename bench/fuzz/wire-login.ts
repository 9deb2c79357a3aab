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
export const LOGIN_FAULTS = ['none', 'vanish-after-startup', 'half-close-after-startup', 'truncated-startup', 'wrong-password', 'garbage-password', 'vanish-mid-scram'] as const;
export type LoginFault = (typeof LOGIN_FAULTS)[number];

export type LoginOutcome = 'ready' | 'refused' | 'abandoned';

const LOGIN_WAIT_MS = 10_000;

const isAuthStep = (m: BackendMsg) => m.name.startsWith('authentication') || m.name === 'error' || m.name === 'readyForQuery';

/** Logs in through the first ReadyForQuery, with writes split by `rng` (null: whole writes). */
export async function login(sock: WireSocket, cred: Credentials, rng: Prng | null, fault: LoginFault = 'none'): Promise<LoginOutcome> {
  const send = (bytes: Buffer) => sock.send(bytes, rng ? drawSplit(rng, bytes.length) : undefined);
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
