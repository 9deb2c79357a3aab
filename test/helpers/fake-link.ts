// A stand-in for a watched ServerConnection in unit tests: records what Sluice writes and plays server replies through the watcher as ServerConnection would.
import { ReplyVerdict, type ReplyWatcher, type ServerConnection } from '../../lib/pool/server-connection.js';
import { ServerStatements } from '../../lib/pool/server-statements.js';
import { COMPLETIONS } from '../../lib/protocol/statement-frames.js';
import { message, readyForQuery } from './bytes.js';

export class FakeLink {
  completions = 0;
  status = 0x49; // I
  /** Frames Sluice wrote to the server, as type letters with the name they carry. */
  readonly sent: Buffer[] = [];
  /** Messages the client received, as type letters (E with its SQLSTATE). */
  readonly client: string[] = [];
  private stop = 0;
  private parameterWatch = false;

  constructor(
    private readonly watcher: () => ReplyWatcher,
    /** Shared with another FakeLink to play the same server connection for another client. */
    readonly statements = new ServerStatements(),
  ) {}

  get conn(): ServerConnection {
    return this as unknown as ServerConnection;
  }

  /** Kept message by message, however many one write holds. */
  write(b: Buffer): void {
    let at = 0;
    while (at + 5 <= b.length) {
      const end = at + 1 + b.readInt32BE(at + 1);
      this.sent.push(b.subarray(at, end));
      at = end;
    }
    if (at < b.length) this.sent.push(b.subarray(at));
  }

  cork(): void {}

  uncork(): void {}

  stopAtCompletion(n: number): void {
    this.stop = n;
  }

  watchParameterDescriptions(on: boolean): void {
    this.parameterWatch = on;
  }

  /** What the client sees: a frame's type letter, with the SQLSTATE for errors. */
  toClient(buf: Buffer, start: number, end: number): void {
    const type = String.fromCharCode(buf[start]);
    this.client.push(type === 'E' ? `E${/C([0-9A-Z]{5})\0/.exec(buf.toString('latin1', start, end))?.[1]}` : type);
  }

  /** The server sends one message of this type ('E' takes a SQLSTATE). */
  reply(type: string, sqlstate = 'XX000'): void {
    let frame: Buffer;
    if (type === 'Z') frame = readyForQuery(String.fromCharCode(this.status));
    else if (type === 'E') frame = message('E', `SERROR\0C${sqlstate}\0Mboom\0\0`);
    else frame = message(type);
    this.replyFrame(frame, sqlstate);
  }

  /** The server sends this whole message (a RowDescription with columns, say). */
  replyFrame(frame: Buffer, sqlstate = 'XX000'): void {
    const type = String.fromCharCode(frame[0]);
    const code = frame[0];
    const w = this.watcher();
    let verdict = ReplyVerdict.Forward;
    if (COMPLETIONS.includes(code)) {
      if (++this.completions === this.stop) verdict = w.completion(frame, 0, frame.length);
    } else if (type === 'E') verdict = w.error(sqlstate, frame, 0, frame.length);
    else if (type === 'Z') verdict = w.ready(frame, 0, frame.length);
    else if (type === 't' && this.parameterWatch) verdict = w.parameters(frame, 0, frame.length);
    if (verdict === ReplyVerdict.Forward) this.toClient(frame, 0, frame.length);
  }

  /** Several replies in order, e.g. '12DCZ' (D is a DataRow, not a completion). */
  replies(types: string): void {
    for (const ch of types) this.reply(ch);
  }

  /** What was sent, e.g. ['P sluice_…', 'B', 'S']: the type letter, and the statement name of P, C and D('S'). */
  sentSummary(): string[] {
    return this.sent.map((b) => {
      const type = String.fromCharCode(b[0]);
      if (type === 'P') return `P ${b.toString('utf8', 5, b.indexOf(0, 5))}`;
      if (type === 'C' || type === 'D') return `${type} ${b.toString('utf8', 6, b.indexOf(0, 6))}`;
      if (type === 'B') {
        const from = b.indexOf(0, 5) + 1;
        return `B ${b.toString('utf8', from, b.indexOf(0, from))}`;
      }
      return type;
    });
  }
}
