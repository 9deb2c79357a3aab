// Client input kept in arrival order while the session waits (for the server or the notify hub) before it may handle more.

/** What a kept piece of input is. */
export const enum Held {
  /** Bytes to pass on as they are: CopyData, or the rest of a message that streams through. */
  Bytes,
  /** A whole message to handle again. */
  Message,
  /** The head of a message too large to gather, whose rest follows as Bytes (see FrameSink.onHead). */
  Head,
}

interface Item {
  buf: Buffer;
  kind: Held;
}

export class HeldInput {
  held = false;
  private items: Item[] = [];
  private kept = 0;

  /** Bytes kept, for flow control and SHOW CLIENTS. */
  get bytes(): number {
    return this.kept;
  }

  keep(buf: Buffer, kind: Held): void {
    this.kept += buf.length;
    this.items.push({ buf, kind });
  }

  /** Hands the kept items to handle, in order, until one of them holds input again. */
  release(handle: (buf: Buffer, kind: Held) => void): void {
    this.held = false;
    while (this.items.length > 0 && !this.held) {
      const { buf, kind } = this.items.shift() as Item;
      this.kept -= buf.length;
      handle(buf, kind);
    }
  }

  clear(): void {
    this.items = [];
    this.kept = 0;
  }
}
