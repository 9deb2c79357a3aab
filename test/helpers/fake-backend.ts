// A tiny Postgres speaker for fault injection only: trust login, then per knob it answers, hangs, closes mid-response or sends garbage.
import net from 'node:net';
import { FrameScanner, StartupReader, type FrameSink } from '../../lib/protocol/framing.js';
import { TxStatus } from '../../lib/protocol/codes.js';
import * as encode from '../../lib/protocol/encode.js';
import type { TeardownHost } from './postgres.js';

const SSL_REQUEST = 80877103;
const GSSENC_REQUEST = 80877104;
const CANCEL_REQUEST = 80877102;
const ALL_TYPES = Array.from({ length: 256 }, (_, i) => i);
const TEXT_OID = 25;

/** What the fake does; read at each login and each client query, so a test can change it between steps. */
export type FakeBehaviour =
  /** Logs in and answers every query with one row ('1'). */
  | { kind: 'ok' }
  /** Accepts TCP and reads the startup packet, but never answers it. */
  | { kind: 'hang-login' }
  /** Logs in, then never answers a query. */
  | { kind: 'hang-query' }
  /** Logs in, then answers a query with these bytes and nothing else. */
  | { kind: 'garbage'; bytes: Buffer }
  /**
   * Logs in, then answers a query with RowDescription and a DataRow and closes the socket:
   * 'boundary' after the whole DataRow, 'mid-message' halfway through it.
   */
  | { kind: 'close-mid-response'; at: 'boundary' | 'mid-message' };

export interface FakeBackend {
  port: number;
  behaviour: FakeBehaviour;
  /** Logins completed (AuthenticationOk sent). */
  readonly logins: number;
  /** Client queries received (the pooler's own housekeeping SQL excluded). */
  readonly queries: string[];
  /** Connections currently open. */
  readonly open: number;
  /** Close every open connection at once, as a crashed server would. */
  dropAll(): void;
  /** Writes these bytes on every logged-in connection, unasked (the rest of a message cut short, say). */
  write(bytes: Buffer): void;
  /** Send a NotificationResponse on every logged-in connection, as Postgres does to its listeners. */
  notify(channel: string, payload: string, pid?: number): void;
  close(): Promise<void>;
}

/** SQL the pooler runs on its own (parameter sync, rollback, reset); always answered normally so knobs hit client queries. */
function isHousekeeping(sql: string): boolean {
  return /^\s*(SELECT pg_catalog\.set_config|RESET|ROLLBACK|DISCARD)/i.test(sql);
}

const WELCOME_PARAMS: Array<[string, string]> = [
  ['server_version', '16.0 (sluice fake backend)'],
  ['server_encoding', 'UTF8'],
  ['client_encoding', 'UTF8'],
  ['DateStyle', 'ISO, MDY'],
  ['TimeZone', 'UTC'],
  ['integer_datetimes', 'on'],
  ['standard_conforming_strings', 'on'],
  ['application_name', ''],
];

function welcome(pid: number): Buffer {
  return Buffer.concat([
    encode.AuthenticationOk,
    ...WELCOME_PARAMS.map(([k, v]) => encode.parameterStatus(k, v)),
    encode.backendKeyData(pid, 0x5eed),
    encode.ReadyForQueryIdle,
  ]);
}

function oneRow(): Buffer {
  return Buffer.concat([
    encode.rowDescription([{ name: 'x', typeOid: TEXT_OID }]),
    encode.dataRow(['1']),
    encode.commandComplete('SELECT 1'),
    encode.ReadyForQueryIdle,
  ]);
}

class FakeConnection implements FrameSink {
  private readonly reader = new StartupReader(10000);
  private scanner: FrameScanner | null = null;

  constructor(
    private readonly socket: net.Socket,
    private readonly pid: number,
    private readonly owner: { behaviour: FakeBehaviour; loggedIn(): void; queried(sql: string): void },
  ) {
    socket.on('data', (chunk: Buffer) => this.receive(chunk));
    socket.on('error', () => undefined);
  }

  private receive(chunk: Buffer): void {
    if (this.scanner) return this.scanner.feed(chunk);
    for (let p = this.reader.push(chunk); p && !this.scanner; p = this.reader.take()) this.startupPacket(p);
    const rest = this.scanner ? this.reader.rest() : null;
    if (rest) (this.scanner as FrameScanner | null)?.feed(rest);
  }

  private startupPacket(p: Buffer): void {
    const code = p.readInt32BE(4);
    if (code === SSL_REQUEST || code === GSSENC_REQUEST) return void this.socket.write(encode.SSLRefuse);
    if (code === CANCEL_REQUEST) return void this.socket.destroy();
    this.scanner = new FrameScanner(this, ALL_TYPES);
    if (this.owner.behaviour.kind === 'hang-login') return;
    this.owner.loggedIn();
    this.socket.write(welcome(this.pid));
  }

  onMessage(type: number, buf: Buffer, start: number, end: number): boolean {
    if (type === 0x58 /* Terminate */) this.socket.end();
    if (type === 0x51 /* Query */) this.query(buf.toString('utf8', start + 5, end - 1));
    return false;
  }

  forward(): void {
    // Every type is interesting here, so nothing is forwarded.
  }

  onFrameError(): void {
    this.socket.destroy();
  }

  private query(sql: string): void {
    if (isHousekeeping(sql)) return void this.socket.write(housekeepingReply(sql));
    this.owner.queried(sql);
    const b = this.owner.behaviour;
    if (b.kind === 'ok') this.socket.write(oneRow());
    else if (b.kind === 'garbage') this.socket.write(b.bytes);
    else if (b.kind === 'close-mid-response') this.closeMidResponse(b.at);
  }

  private closeMidResponse(at: 'boundary' | 'mid-message'): void {
    const head = encode.rowDescription([{ name: 'x', typeOid: TEXT_OID }]);
    const row = encode.dataRow(['a value long enough to be cut in half']);
    const cut = at === 'boundary' ? row.length : Math.floor(row.length / 2);
    // One write, then FIN: the pooler sees the bytes and the close with nothing in between.
    this.socket.end(Buffer.concat([head, row.subarray(0, cut)]));
  }
}

export function notificationResponse(pid: number, channel: string, payload: string): Buffer {
  const body = Buffer.concat([Buffer.alloc(4), Buffer.from(`${channel}\0${payload}\0`)]);
  body.writeInt32BE(pid, 0);
  const head = Buffer.alloc(5);
  head[0] = 0x41; // A
  head.writeInt32BE(4 + body.length, 1);
  return Buffer.concat([head, body]);
}

function housekeepingReply(sql: string): Buffer {
  const tag = /^\s*ROLLBACK/i.test(sql) ? 'ROLLBACK' : /^\s*SELECT/i.test(sql) ? 'SELECT 1' : 'RESET';
  return Buffer.concat([encode.commandComplete(tag), encode.readyForQuery(TxStatus.Idle)]);
}

/** Starts a fake backend on 127.0.0.1, port 0; it is closed at t's teardown. */
export async function startFakeBackend(t: TeardownHost, behaviour: FakeBehaviour): Promise<FakeBackend> {
  const sockets = new Set<net.Socket>();
  const loggedIn = new Set<net.Socket>();
  let logins = 0;
  let nextPid = 1000;
  const queries: string[] = [];
  const state = {
    behaviour,
    loggedIn: () => void logins++,
    queried: (sql: string) => void queries.push(sql),
  };
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.once('close', () => (sockets.delete(socket), loggedIn.delete(socket)));
    const owner = {
      get behaviour() {
        return state.behaviour;
      },
      loggedIn: () => (loggedIn.add(socket), state.loggedIn()),
      queried: state.queried,
    };
    new FakeConnection(socket, nextPid++, owner);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  const dropAll = () => {
    for (const s of sockets) s.destroy();
  };
  const close = () =>
    new Promise<void>((resolve) => {
      dropAll();
      server.close(() => resolve());
    });
  t.teardown(close);
  return {
    port,
    get behaviour() {
      return state.behaviour;
    },
    set behaviour(b: FakeBehaviour) {
      state.behaviour = b;
    },
    get logins() {
      return logins;
    },
    queries,
    get open() {
      return sockets.size;
    },
    dropAll,
    write: (bytes) => {
      for (const s of loggedIn) s.write(bytes);
    },
    notify: (channel, payload, pid = 4242) => {
      for (const s of loggedIn) s.write(notificationResponse(pid, channel, payload));
    },
    close,
  };
}
