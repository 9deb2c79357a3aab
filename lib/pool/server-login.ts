// Opens one backend socket: TCP, optional TLS by sslmode, StartupMessage and the password exchange.
import net from 'node:net';
import tls from 'node:tls';
import fs from 'node:fs';
import { serialize, Parser, type BackendMessage } from '../protocol/pg-protocol.js';
import { ScramClientSession } from '../auth/scram.js';
import { md5ClientResponse } from '../auth/md5.js';
import type { SslMode, TcpSettings } from '../config/types.js';
import { tuneTcp } from '../tcp-options.js';
import { ReadRoute, type SocketReader } from '../socket-read.js';
import { isUnixHost, serverConnectOptions } from './server-address.js';

/** The fields of the login-phase messages read below; pg-protocol's message union keeps them on its subclasses. */
interface LoginFields {
  salt: Buffer;
  mechanisms: string[];
  data: string;
  parameterName: string;
  parameterValue: string;
  processID: number;
  secretKey: number;
  message: string;
  code?: string;
}

export interface ServerTarget {
  host: string;
  port: number;
  dbname: string;
  user: string;
  /** Plaintext or "md5…" secret; absent when the server trusts us or keys are used. */
  password?: string;
  /** SCRAM keys recovered from the client's own SCRAM login (passthrough). */
  scramKeys?: { clientKey: Buffer; serverKey: Buffer };
  sslmode: SslMode;
  caFile?: string;
  connectTimeoutMs: number;
  /** Shown in pg_stat_activity; only Sluice's own connections (the notify listener) set one. */
  applicationName?: string;
  /** Keepalive and TCP_USER_TIMEOUT, set once connected; absent leaves the socket as Node.js made it. */
  tcp?: TcpSettings;
}

export interface LoginResult {
  socket: net.Socket;
  params: Map<string, string>;
  pid: number;
  secret: number;
  tls: boolean;
  /** Where the socket's reads go when it reads below the stream (see SocketReader); null: it reads through 'data'. */
  route: ReadRoute | null;
}

/** A failure the server answered with an ErrorResponse (bad password, no such database): retrying will not help. */
export class ServerRejectedLogin extends Error {
  constructor(
    message: string,
    readonly sqlstate: string,
  ) {
    super(message);
  }
}

/** reader: plain TCP sockets read below the stream with it (TLS and its negotiation read through 'data'). */
export function loginToServer(target: ServerTarget, reader: SocketReader | null = null): Promise<LoginResult> {
  return new Promise((resolve, reject) => {
    let done = false;
    const fail = (err: Error): void => {
      if (done) return;
      done = true;
      timer.unref();
      clearTimeout(timer);
      socket.destroy();
      reject(err);
    };
    const timer = setTimeout(
      () => fail(new Error(`server_connect_timeout (${target.connectTimeoutMs} ms) reached`)),
      target.connectTimeoutMs || 2 ** 31 - 1,
    );
    // No TLS (sslmode disable, or a Unix socket, see startTls): the reads can skip the stream layer.
    const route = reader && (target.sslmode === 'disable' || isUnixHost(target.host)) ? new ReadRoute() : null;
    const onread = reader && route ? reader.connectOptions(route) : undefined;
    let socket: net.Socket = net.connect({ ...serverConnectOptions(target.host, target.port), onread });
    socket.on('error', fail);
    socket.once('connect', () => {
      if (target.tcp) tuneTcp(socket, target.tcp);
      negotiateTls(socket, target).then((s) => {
        socket = s;
        s.on('error', fail);
        runStartup(s, target, route).then((r) => {
          if (done) return;
          done = true;
          clearTimeout(timer);
          s.removeListener('error', fail);
          resolve(r);
        }, fail);
      }, fail);
    });
  });
}

function negotiateTls(socket: net.Socket, target: ServerTarget): Promise<net.Socket> {
  // As libpq: no TLS over a Unix socket, whatever sslmode says; the socket never leaves the host.
  if (target.sslmode === 'disable' || isUnixHost(target.host)) return Promise.resolve(socket);
  return new Promise((resolve, reject) => {
    socket.write(serialize.requestSsl());
    socket.once('data', (b: Buffer) => {
      if (b[0] === 0x4e /* N */) {
        if (target.sslmode === 'prefer') return resolve(socket);
        return reject(new Error(`server does not support TLS (sslmode=${target.sslmode})`));
      }
      if (b[0] !== 0x53 /* S */) return reject(new Error('unexpected answer to SSLRequest'));
      const verify = target.sslmode === 'verify-ca' || target.sslmode === 'verify-full';
      const s = tls.connect({
        socket,
        // Node checks the identity against `host` when there is no SNI name; without it, "localhost".
        host: target.host,
        servername: net.isIP(target.host) ? undefined : target.host,
        ca: target.caFile ? fs.readFileSync(target.caFile) : undefined,
        rejectUnauthorized: verify,
        // verify-ca checks the chain only; verify-full also checks the host name.
        checkServerIdentity: target.sslmode === 'verify-full' ? tls.checkServerIdentity : () => undefined,
      });
      s.once('secureConnect', () => resolve(s));
      s.once('error', reject);
    });
  });
}

function runStartup(socket: net.Socket, target: ServerTarget, route: ReadRoute | null): Promise<LoginResult> {
  return new Promise((resolve, reject) => {
    const parser = new Parser();
    const params = new Map<string, string>();
    let pid = 0;
    let secret = 0;
    let scram: ScramClientSession | null = null;
    const onMessage = (msg: BackendMessage): void => {
      try {
        const m = msg as BackendMessage & LoginFields;
        switch (m.name) {
          case 'authenticationCleartextPassword':
            socket.write(serialize.password(requirePassword(target)));
            break;
          case 'authenticationMD5Password':
            socket.write(serialize.password(md5ClientResponse(target.user, requirePassword(target), m.salt)));
            break;
          case 'authenticationSASL':
            if (!m.mechanisms.includes('SCRAM-SHA-256')) throw new Error('server offers no SCRAM-SHA-256');
            scram = new ScramClientSession(target.scramKeys ?? { password: requirePassword(target) });
            socket.write(serialize.sendSASLInitialResponseMessage('SCRAM-SHA-256', scram.clientFirst()));
            break;
          case 'authenticationSASLContinue':
            socket.write(serialize.sendSCRAMClientFinalMessage((scram as ScramClientSession).serverFirst(m.data)));
            break;
          case 'authenticationSASLFinal':
            (scram as ScramClientSession).serverFinal(m.data);
            break;
          case 'parameterStatus':
            params.set(m.parameterName, m.parameterValue);
            break;
          case 'backendKeyData':
            pid = m.processID;
            secret = m.secretKey;
            break;
          case 'error':
            throw new ServerRejectedLogin(m.message, m.code ?? '');
          case 'readyForQuery':
            // Reads from here on are kept for the server connection (route) or theirs to listen to ('data').
            if (route) route.to(null);
            else socket.removeListener('data', onData);
            socket.removeListener('close', onClose);
            resolve({ socket, params, pid, secret, tls: socket instanceof tls.TLSSocket, route });
            break;
        }
      } catch (err) {
        reject(err);
      }
    };
    const onData = (b: Buffer): void => parser.parse(b, onMessage);
    const onClose = (): void => reject(new Error('server closed the connection during login'));
    if (route) route.to(onData);
    else socket.on('data', onData);
    socket.once('close', onClose);
    const startup: Record<string, string> = { user: target.user, database: target.dbname };
    if (target.applicationName) startup.application_name = target.applicationName;
    socket.write(serialize.startup(startup));
  });
}

function requirePassword(target: ServerTarget): string {
  if (target.password === undefined) throw new ServerRejectedLogin('server asked for a password and none is configured', '28P01');
  return target.password;
}
