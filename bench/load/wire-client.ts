// Owns a lean Postgres client for load generators: SCRAM login with cached keys, simple queries, error codes.
import { createHash, createHmac, pbkdf2Sync, randomBytes } from 'node:crypto';
import net from 'node:net';
import { Parser, serialize, type BackendMessage } from '../../lib/protocol/pg-protocol.js';

export interface WireConfig {
  host: string;
  port: number;
  user: string;
  password: string;
  database: string;
  /** The source address to connect from (any 127.x.y.z on loopback), so a pooler sees distinct clients. */
  localAddress?: string;
}

export type QueryOutcome = { ok: true } | { ok: false; code: string; message: string; fatal: boolean };

/**
 * SCRAM's PBKDF2 (4096 rounds) costs the client milliseconds per login; thousands of logins with one
 * password and one server salt need it once. The pooler's side of each exchange is unchanged.
 */
export class ScramKeyCache {
  private readonly keys = new Map<string, { clientKey: Buffer; serverKey: Buffer }>();

  get(password: string, salt: string, iterations: number): { clientKey: Buffer; serverKey: Buffer } {
    const id = `${salt}:${iterations}:${password}`;
    let keys = this.keys.get(id);
    if (!keys) {
      const salted = pbkdf2Sync(password, Buffer.from(salt, 'base64'), iterations, 32, 'sha256');
      keys = {
        clientKey: createHmac('sha256', salted).update('Client Key').digest(),
        serverKey: createHmac('sha256', salted).update('Server Key').digest(),
      };
      this.keys.set(id, keys);
    }
    return keys;
  }
}

type Message = BackendMessage & Record<string, any>;

const hmac = (key: Buffer, text: string): Buffer => createHmac('sha256', key).update(text).digest();

/** One SCRAM-SHA-256 exchange (RFC 5802, no channel binding) with keys from the cache. */
class ScramExchange {
  private readonly bare = `n=,r=${randomBytes(18).toString('base64')}`;
  private expectedSignature = '';

  constructor(
    private readonly password: string,
    private readonly cache: ScramKeyCache,
  ) {}

  clientFirst(): string {
    return `n,,${this.bare}`;
  }

  /** server-first-message "r=<nonce>,s=<salt>,i=<iterations>" → client-final-message with the proof. */
  clientFinal(serverFirst: string): string {
    const attrs = new Map(serverFirst.split(',').map((a) => [a[0], a.slice(2)] as const));
    const { clientKey, serverKey } = this.cache.get(this.password, attrs.get('s') ?? '', Number(attrs.get('i')));
    const withoutProof = `c=biws,r=${attrs.get('r')}`;
    const authMessage = `${this.bare},${serverFirst},${withoutProof}`;
    const signature = hmac(createHash('sha256').update(clientKey).digest(), authMessage);
    const proof = Buffer.from(clientKey.map((b, i) => b ^ signature[i]!));
    this.expectedSignature = hmac(serverKey, authMessage).toString('base64');
    return `${withoutProof},p=${proof.toString('base64')}`;
  }

  /** The server proves it knows the verifier too. */
  verify(serverFinal: string): void {
    if (serverFinal !== `v=${this.expectedSignature}`) throw new Error('SCRAM: wrong server signature');
  }
}

export class WireClient {
  private readonly parser = new Parser();
  private pending: ((outcome: QueryOutcome) => void) | undefined;
  private error: QueryOutcome | undefined;
  private closed = false;
  /** Called once when the connection ends, for whatever reason. */
  onClose: () => void = () => undefined;

  private constructor(private readonly socket: net.Socket) {}

  /** Resolves after login, at the first ReadyForQuery; rejects with the server's message otherwise. */
  static connect(cfg: WireConfig, cache: ScramKeyCache): Promise<WireClient> {
    return new Promise((resolve, reject) => {
      const socket = net.connect({ host: cfg.host, port: cfg.port, noDelay: true, localAddress: cfg.localAddress });
      const client = new WireClient(socket);
      const scram = new ScramExchange(cfg.password, cache);
      let ready = false;
      const fail = (why: string) => {
        if (ready) return;
        ready = true;
        socket.destroy();
        reject(new Error(why));
      };
      const onLogin = (m: Message): void => {
        if (m.name === 'authenticationSASL') socket.write(serialize.sendSASLInitialResponseMessage('SCRAM-SHA-256', scram.clientFirst()));
        else if (m.name === 'authenticationSASLContinue') socket.write(serialize.sendSCRAMClientFinalMessage(scram.clientFinal(m.data)));
        else if (m.name === 'authenticationSASLFinal') scram.verify(m.data);
        else if (m.name === 'authenticationCleartextPassword') socket.write(serialize.password(cfg.password));
        else if (m.name === 'error') fail(`${m.code}: ${m.message}`);
        else if (m.name === 'readyForQuery') {
          ready = true;
          resolve(client);
        }
      };
      socket.on('data', (chunk: Buffer) => {
        try {
          client.parser.parse(chunk, (msg) => (ready ? client.onMessage(msg as Message) : onLogin(msg as Message)));
        } catch (err) {
          fail(`protocol error: ${(err as Error).message}`);
        }
      });
      socket.on('error', (err) => fail(err.message));
      socket.on('close', () => {
        fail('connection closed during login');
        client.ended();
      });
      socket.once('connect', () => socket.write(serialize.startup({ user: cfg.user, database: cfg.database })));
    });
  }

  /** Simple-protocol query; resolves at ReadyForQuery (or when the connection drops). */
  query(sql: string): Promise<QueryOutcome> {
    if (this.closed) return Promise.resolve({ ok: false, code: 'closed', message: 'connection closed', fatal: true });
    if (this.pending) throw new Error('WireClient: one query at a time');
    this.error = undefined;
    this.socket.write(serialize.query(sql));
    return new Promise((resolve) => (this.pending = resolve));
  }

  private onMessage(m: Message): void {
    if (m.name === 'error') {
      this.error = { ok: false, code: m.code ?? '', message: m.message, fatal: m.severity === 'FATAL' || m.severity === 'PANIC' };
    } else if (m.name === 'readyForQuery') {
      this.settle(this.error ?? { ok: true });
    }
  }

  private settle(outcome: QueryOutcome): void {
    const pending = this.pending;
    this.pending = undefined;
    pending?.(outcome);
  }

  private ended(): void {
    if (this.closed) return;
    this.closed = true;
    this.settle(this.error ?? { ok: false, code: 'closed', message: 'connection closed', fatal: true });
    this.onClose();
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** Terminate, then the server closes the connection. */
  close(): void {
    if (!this.closed) this.socket.end(serialize.end());
  }
}
