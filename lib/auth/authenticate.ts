// The client-facing password exchange as a socket-free state machine: what to send, and the verdict.
import crypto from 'node:crypto';
import * as encode from '../protocol/encode.js';
import { decodePassword, decodeSASLInitialResponse } from '../protocol/decode.js';
import { poolerError, type PoolerError } from '../errors.js';
import type { UserSecret } from '../config/types.js';
import type { LoginAuthType } from './hba.js';
import { md5Secret, verifyMd5Response } from './md5.js';
import { mockScramSecret, saslprep, ScramError, ScramServerSession, SCRAM_MECHANISM } from './scram.js';

export interface AuthOptions {
  /** auth_type, already resolved through the hba rules under `hba`. */
  authType: LoginAuthType;
  user: string;
  /** The user's secret; undefined for an unknown user, who then fails exactly like a wrong password. */
  secret: UserSecret | undefined;
  tls: boolean;
  plainWithoutTls: boolean;
  /** Per-process key behind the fake verifiers of unknown users. */
  mockKey: Buffer;
}

export type AuthStep =
  | { kind: 'send'; data: Buffer }
  /** final: the SASLFinal frame to send before AuthenticationOk; scramKeys: for logging in to Postgres as this user. */
  | { kind: 'ok'; final?: Buffer; scramKeys?: { clientKey: Buffer; serverKey: Buffer } }
  | { kind: 'fail'; error: PoolerError };

type Method = 'trust' | 'plain' | 'md5' | 'scram';

/**
 * Picks the exchange as PgBouncer does: under md5, a user whose secret is SCRAM is asked for SCRAM;
 * under scram-sha-256 every user does SCRAM, so an md5-only secret cannot log in.
 */
function methodFor(o: AuthOptions): Method {
  if (o.authType === 'trust') return 'trust';
  if (o.authType === 'plain') return 'plain';
  if (o.authType === 'md5') return o.secret?.kind === 'scram' ? 'scram' : 'md5';
  return 'scram';
}

export class ClientAuthenticator {
  readonly method: Method;
  private salt = Buffer.alloc(0);
  private scram: ScramServerSession | null = null;
  private scramStep: 'first' | 'final' = 'first';

  constructor(private readonly o: AuthOptions) {
    this.method = methodFor(o);
  }

  start(): AuthStep {
    switch (this.method) {
      case 'trust':
        return { kind: 'ok' };
      case 'plain':
        if (!this.o.tls && !this.o.plainWithoutTls) return { kind: 'fail', error: poolerError('SLUICE_CLEARTEXT_REFUSED') };
        return { kind: 'send', data: encode.AuthenticationCleartextPassword };
      case 'md5':
        this.salt = crypto.randomBytes(4);
        return { kind: 'send', data: encode.authenticationMD5Password(this.salt) };
      case 'scram':
        return { kind: 'send', data: encode.authenticationSASL([SCRAM_MECHANISM]) };
    }
  }

  /** A PasswordMessage / SASLInitialResponse / SASLResponse frame: buf[start, end). */
  onPassword(buf: Buffer, start: number, end: number): AuthStep {
    try {
      if (this.method === 'scram') return this.scramMessage(buf, start, end);
      const answer = decodePassword(buf, start, end);
      const ok = this.method === 'md5' ? this.checkMd5(answer) : this.checkPlain(answer);
      return ok ? { kind: 'ok' } : this.denied();
    } catch (err) {
      if (err instanceof ScramError) {
        return { kind: 'fail', error: poolerError('SLUICE_AUTH_PROTOCOL', { reason: err.message }) };
      }
      throw err;
    }
  }

  private denied(): AuthStep {
    return { kind: 'fail', error: poolerError('SLUICE_AUTH_FAILED', { user: this.o.user, method: this.method }) };
  }

  private checkMd5(response: string): boolean {
    const secret = this.o.secret ?? { kind: 'md5' as const, hash: md5Secret(this.o.user, crypto.randomUUID()) };
    return verifyMd5Response(this.o.user, secret, this.salt, response) && this.o.secret !== undefined;
  }

  private checkPlain(password: string): boolean {
    const s = this.o.secret;
    if (!s) {
      timingSafeEqualStr(password, crypto.randomUUID());
      return false;
    }
    if (s.kind === 'plain') return timingSafeEqualStr(password, s.password);
    if (s.kind === 'md5') return timingSafeEqualStr(md5Secret(this.o.user, password), s.hash);
    const stored = crypto
      .createHash('sha256')
      .update(clientKeyOf(password, s.salt, s.iterations))
      .digest();
    return crypto.timingSafeEqual(stored, s.storedKey);
  }

  private scramMessage(buf: Buffer, start: number, end: number): AuthStep {
    if (this.scramStep === 'first') {
      const init = decodeSASLInitialResponse(buf, start, end);
      if (!init) throw new ScramError('malformed SASLInitialResponse');
      if (init.mechanism !== SCRAM_MECHANISM) throw new ScramError(`unsupported SASL mechanism ${init.mechanism}`);
      const secret = this.o.secret && this.o.secret.kind !== 'md5' ? this.o.secret : mockScramSecret(this.o.user, this.o.mockKey);
      this.scram = new ScramServerSession(secret);
      this.scramStep = 'final';
      return { kind: 'send', data: encode.authenticationSASLContinue(this.scram.clientFirst(init.data)) };
    }
    const result = (this.scram as ScramServerSession).clientFinal(decodePassword(buf, start, end));
    if (!result.ok || !this.o.secret || !result.serverFinal) return this.denied();
    const s = this.o.secret;
    const scramKeys = s.kind === 'scram' && result.clientKey ? { clientKey: result.clientKey, serverKey: s.serverKey } : undefined;
    return { kind: 'ok', scramKeys, final: encode.authenticationSASLFinal(result.serverFinal) };
  }
}

function clientKeyOf(password: string, salt: Buffer, iterations: number): Buffer {
  const salted = crypto.pbkdf2Sync(saslprep(password), salt, iterations, 32, 'sha256');
  return crypto.createHmac('sha256', salted).update('Client Key').digest();
}

function timingSafeEqualStr(a: string, b: string): boolean {
  const ha = crypto.createHash('sha256').update(a).digest();
  const hb = crypto.createHash('sha256').update(b).digest();
  return crypto.timingSafeEqual(ha, hb);
}
