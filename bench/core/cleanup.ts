// Owns tearing down everything the bench started, in reverse order, on success, error, Ctrl-C or SIGTERM.

type Step = () => unknown;

export class Cleanup {
  private readonly steps = new Map<number, Step>();
  /** Pids to SIGKILL if this process exits before the async steps ran (a crash, process.exit). */
  private readonly pids = new Set<number>();
  private nextId = 0;
  private running: Promise<void> | undefined;
  /** Set by Ctrl-C / SIGTERM: what is measured from then on is not to be believed or saved. */
  interrupted = false;

  /** Registers a step; the returned function unregisters it (call it once the thing is stopped). */
  add(step: Step): () => void {
    const id = this.nextId++;
    this.steps.set(id, step);
    return () => this.steps.delete(id);
  }

  /** Remembers a child pid for the last-resort kill on exit; returns the function that forgets it. */
  trackPid(pid: number): () => void {
    this.pids.add(pid);
    return () => this.pids.delete(pid);
  }

  /**
   * Runs every step once, newest first; a failing step does not stop the others. Steps added while
   * it runs (the interrupted scenario may still be starting something) are run too.
   */
  runAll(): Promise<void> {
    this.running ??= this.drain().finally(() => (this.running = undefined));
    return this.running;
  }

  private async drain(): Promise<void> {
    while (this.steps.size) {
      const newest = Math.max(...this.steps.keys());
      const step = this.steps.get(newest)!;
      this.steps.delete(newest);
      try {
        await step();
      } catch (err) {
        process.stderr.write(`bench: cleanup step failed: ${(err as Error).message}\n`);
      }
    }
  }

  /** Ctrl-C / SIGTERM: clean up, then exit with the conventional 128 + signal code. */
  installSignalHandlers(): void {
    const onSignal = (signal: NodeJS.Signals, code: number) => {
      this.interrupted = true;
      process.stderr.write(`\nbench: ${signal}, stopping everything it started...\n`);
      void this.runAll().finally(() => process.exit(code));
    };
    process.once('SIGINT', () => onSignal('SIGINT', 130));
    process.once('SIGTERM', () => onSignal('SIGTERM', 143));
    process.on('exit', () => {
      for (const pid of this.pids) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // Already gone.
        }
      }
    });
  }
}
