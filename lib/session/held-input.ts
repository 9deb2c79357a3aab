// Client input kept in arrival order while the session waits (for the server or the notify hub) before it may handle more.

interface Item {
  buf: Buffer;
  /** A whole message to handle again, or bytes (CopyData) to pass on as they are. */
  message: boolean;
}

export class HeldInput {
  held = false;
  private items: Item[] = [];

  keep(buf: Buffer, message: boolean): void {
    this.items.push({ buf, message });
  }

  /** Hands the kept items to handle, in order, until one of them holds input again. */
  release(handle: (buf: Buffer, message: boolean) => void): void {
    this.held = false;
    while (this.items.length > 0 && !this.held) {
      const { buf, message } = this.items.shift() as Item;
      handle(buf, message);
    }
  }

  clear(): void {
    this.items = [];
  }
}
