// Conditions on pools that someone waits for (PAUSE, WAIT_CLOSE), re-checked whenever a pool reports a connection event.

interface Wait {
  test(): boolean;
  done(): void;
}

export class PoolWatch {
  private readonly waits = new Set<Wait>();

  /** Whether anyone waits: the pool event path checks this before doing any work. */
  get active(): boolean {
    return this.waits.size > 0;
  }

  /** Calls done() once test() holds, at once if it already does; returns a function that drops the wait. */
  when(test: () => boolean, done: () => void): () => void {
    if (test()) {
      done();
      return () => undefined;
    }
    const w = { test, done };
    this.waits.add(w);
    return () => void this.waits.delete(w);
  }

  /** A connection was released, closed or opened: re-check every wait. */
  poke(): void {
    for (const w of [...this.waits]) {
      if (!w.test()) continue;
      this.waits.delete(w);
      w.done();
    }
  }

  clear(): void {
    this.waits.clear();
  }
}
