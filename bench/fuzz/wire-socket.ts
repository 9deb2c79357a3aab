// Owns one raw client socket of the fuzzer: writes split at chosen byte offsets with pauses between, and backend messages read back as a queue.
import net from 'node:net';
import { Parser } from '../../lib/protocol/pg-protocol.js';
import type { Prng } from './prng.js';

/** A backend message as pg-protocol parses it (name plus that message's fields). */
export interface BackendMsg {
  name: string;
  [field: string]: unknown;
}

/** How a send is cut into TCP writes: offsets inside the bytes, each followed by a pause. */
export interface SplitPlan {
  cuts: number[];
  /** Milliseconds after each piece but the last (0: the next tick). */
  pauseMs: number[];
}

const NO_SPLIT: SplitPlan = { cuts: [], pauseMs: [] };

/** A random split: whole, a few cuts, or (rarely) one byte at a time, so every byte boundary gets its turn. */
export function drawSplit(rng: Prng, length: number, maxPauseMs = 2): SplitPlan {
  if (length < 2 || rng.chance(0.35)) return NO_SPLIT;
  const cuts = new Set<number>();
  const count = rng.chance(0.05) ? Math.min(length - 1, 40) : rng.between(1, Math.min(length - 1, 4));
  if (count === length - 1) for (let i = 1; i < length; i++) cuts.add(i);
  else while (cuts.size < count) cuts.add(rng.between(1, length - 1));
  const sorted = [...cuts].sort((a, b) => a - b);
  return { cuts: sorted, pauseMs: sorted.map(() => rng.int(maxPauseMs + 1)) };
}

/**
 * pg-protocol's parser hands out Buffers (CopyData chunks, the md5 salt) that are views of its own
 * buffer, which it overwrites with later input; a message read later than it was parsed needs its own copy.
 */
function owned(m: BackendMsg): BackendMsg {
  for (const [key, value] of Object.entries(m)) if (Buffer.isBuffer(value)) m[key] = Buffer.from(value);
  return m;
}

const pause = (ms: number) => new Promise<void>((resolve) => (ms > 0 ? setTimeout(resolve, ms) : setImmediate(resolve)));

export class WireSocket {
  readonly closed: Promise<void>;
  /** The cancel key Sluice handed out at login (BackendKeyData), once seen. */
  cancelKey: { pid: number; secret: number } | null = null;
  private readonly queue: BackendMsg[] = [];
  private wake: (() => void) | null = null;
  private isClosed = false;
  private readonly parser = new Parser();

  private constructor(readonly socket: net.Socket) {
    socket.setNoDelay(true);
    socket.on('error', () => undefined); // 'close' follows; the fuzzer expects resets.
    this.closed = new Promise((resolve) => socket.once('close', () => resolve()));
    void this.closed.then(() => {
      this.isClosed = true;
      this.wake?.();
    });
    socket.on('data', (chunk: Buffer) => {
      try {
        this.parser.parse(chunk, (m) => this.receive(owned(m as unknown as BackendMsg)));
      } catch {
        socket.destroy(); // Bytes the parser cannot follow: nothing after them is readable.
      }
      this.wake?.();
    });
  }

  static connect(host: string, port: number): Promise<WireSocket> {
    return new Promise((resolve, reject) => {
      const socket = net.connect({ host, port });
      socket.once('connect', () => resolve(new WireSocket(socket)));
      socket.once('error', reject);
    });
  }

  private receive(m: BackendMsg): void {
    if (m.name === 'backendKeyData') this.cancelKey = { pid: m.processID as number, secret: m.secretKey as number };
    this.queue.push(m);
  }

  get isOpen(): boolean {
    return !this.isClosed && !this.socket.destroyed;
  }

  /** Writes bytes as the split says, pausing between pieces so they arrive in separate reads. */
  async send(bytes: Buffer, split: SplitPlan = NO_SPLIT): Promise<void> {
    let from = 0;
    for (let i = 0; i < split.cuts.length; i++) {
      if (!this.isOpen) return;
      this.socket.write(bytes.subarray(from, split.cuts[i]));
      from = split.cuts[i];
      await pause(split.pauseMs[i]);
    }
    if (this.isOpen) this.socket.write(bytes.subarray(from));
  }

  /**
   * Messages up to and including the first one `done` accepts. Resolves early (with what came) when the
   * socket closes or `waitMs` passes, so a hostile client never blocks; `complete` says which happened.
   */
  async until(done: (m: BackendMsg) => boolean, waitMs: number): Promise<{ messages: BackendMsg[]; complete: boolean }> {
    const messages: BackendMsg[] = [];
    const deadline = Date.now() + waitMs;
    for (;;) {
      const m = this.queue.shift();
      if (m) {
        messages.push(m);
        if (done(m)) return { messages, complete: true };
        continue;
      }
      const left = deadline - Date.now();
      if (this.isClosed || left <= 0) return { messages, complete: false };
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.wake = () => (clearTimeout(timer), resolve());
      });
      this.wake = null;
    }
  }

  /** Drops what has been read so far (a hostile client does not look at most answers). */
  drain(): BackendMsg[] {
    return this.queue.splice(0);
  }

  halfClose(): void {
    if (this.isOpen) this.socket.end();
  }

  destroy(): void {
    this.socket.destroy();
  }
}
