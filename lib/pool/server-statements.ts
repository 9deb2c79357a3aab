// What one server connection has prepared under Sluice's names: an LRU bounded by max_prepared_statements.

/** One statement prepared on the connection. */
interface Copy {
  /** The transaction (epoch) that last used it. */
  epoch: number;
  /**
   * Its result shape (see protocol/row-shape), fixed when it was prepared, once a Describe of it has been
   * seen; null until then. Postgres refuses to run a copy whose result would now differ (0A000).
   */
  shape: Buffer | null;
}

export class ServerStatements {
  /** Name → its copy; Map order is least recently used first. */
  private readonly lru = new Map<string, Copy>();
  /**
   * Names the server may or may not still have: after a client's DISCARD ALL or DEALLOCATE ALL, or a
   * statement that failed as stale. Sluice closes such a name before preparing it again, so it never
   * trips over "already exists" nor trusts a statement that is gone.
   */
  private readonly doubtful = new Set<string>();
  /** Bumped for each transaction the connection serves; statements it used are never evicted during it. */
  private epoch = 0;
  /** The last name in the LRU's order (the most recently used), or null when not known. */
  private newest: string | null = null;

  get size(): number {
    return this.lru.size;
  }

  /** A new transaction (a new client) starts on this connection. */
  beginTransaction(): void {
    this.epoch++;
  }

  has(name: string): boolean {
    return this.lru.has(name);
  }

  /** A prepared name is used now: it becomes the most recently used. Returns its shape (null: not known yet). */
  touch(name: string): Buffer | null {
    const copy = this.lru.get(name) as Copy;
    copy.epoch = this.epoch;
    // Already the most recently used (the usual case: a client running the same statement): the order stands.
    if (this.newest !== name) {
      this.lru.delete(name);
      this.lru.set(name, copy);
      this.newest = name;
    }
    return copy.shape;
  }

  /** The name is being prepared now. */
  add(name: string): void {
    this.doubtful.delete(name);
    this.lru.delete(name);
    this.lru.set(name, { epoch: this.epoch, shape: null });
    this.newest = name;
  }

  /** The result shape a Describe of the prepared name showed. */
  setShape(name: string, shape: Buffer): void {
    const copy = this.lru.get(name);
    if (copy) copy.shape = shape;
  }

  /** The name is gone from the server (closed, or its Parse failed or was skipped). */
  remove(name: string): void {
    this.lru.delete(name);
    if (this.newest === name) this.newest = null;
  }

  /** The server may still hold the name, but it must not be used as is. */
  doubt(name: string): void {
    this.lru.delete(name);
    if (this.newest === name) this.newest = null;
    this.doubtful.add(name);
  }

  /** Every statement may have been dropped (DISCARD ALL, DEALLOCATE ALL, a reset query). */
  doubtAll(): void {
    for (const name of this.lru.keys()) this.doubtful.add(name);
    this.lru.clear();
    this.newest = null;
  }

  isDoubtful(name: string): boolean {
    return this.doubtful.has(name);
  }

  /** A Close for the name was sent: whatever the server had under it is gone. */
  settle(name: string): void {
    this.doubtful.delete(name);
  }

  /** The least recently used name to close so that one more fits within max, or null (room, or all in use now). */
  victim(max: number): string | null {
    if (this.lru.size < max) return null;
    for (const [name, copy] of this.lru) return copy.epoch === this.epoch ? null : name;
    return null;
  }

  /** Names, least recently used first (for tests and the admin console). */
  names(): string[] {
    return [...this.lru.keys()];
  }
}
