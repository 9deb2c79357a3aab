// One client's names for its prepared statements: each bound to a shared statement, and to the columns the client was shown.
import type { SharedStatement, StatementRegistry } from './statement-registry.js';

/** A client name bound to a statement (and what a failed or skipped Parse or Close must put back). */
export interface Binding {
  readonly name: string;
  readonly stmt: SharedStatement;
  /**
   * The result shape (protocol/row-shape) the client was shown for it, by a Describe of the statement or
   * of a portal bound from it; null until then. Drivers that cache it decode every later row with it.
   */
  shape: Buffer | null;
}

export class ClientNames {
  private readonly names = new Map<string, Binding>();

  constructor(private readonly registry: StatementRegistry) {}

  get size(): number {
    return this.names.size;
  }

  get(name: string): Binding | undefined {
    return this.names.get(name);
  }

  has(name: string): boolean {
    return this.names.has(name);
  }

  /** A client Parse of `name`: buf[start, end) is the Parse and nameEnd the NUL after the name. */
  bind(name: string, buf: Buffer, start: number, end: number, nameEnd: number): Binding {
    const binding: Binding = { name, stmt: this.registry.acquire(buf, start, end, nameEnd), shape: null };
    this.names.set(name, binding);
    return binding;
  }

  /** A client Close: the name lets go of its statement. Returns what it was bound to, if anything. */
  close(name: string): Binding | null {
    const binding = this.names.get(name);
    if (!binding) return null;
    this.names.delete(name);
    this.registry.release(binding.stmt);
    return binding;
  }

  /** A Parse that did not happen: the name is free again. */
  unbind(b: Binding): void {
    if (this.names.get(b.name) !== b) return;
    this.names.delete(b.name);
    this.registry.release(b.stmt);
  }

  /** A Close that did not happen: the name still holds its statement. */
  rebind(b: Binding): void {
    if (this.names.has(b.name)) return;
    this.registry.retain(b.stmt);
    this.names.set(b.name, b);
  }

  /** DISCARD ALL, DEALLOCATE ALL, or the client left: every name lets go. */
  clear(): void {
    for (const b of this.names.values()) this.registry.release(b.stmt);
    this.names.clear();
  }
}
