// A client's requests kept back while Sluice checks, on the server, that a statement still returns what the client was shown.

/** The session side: its own input waits too, until the kept requests have gone. */
export interface HoldHost {
  hold(): void;
  resume(): void;
}

export class HeldRequests {
  /** The requests kept, in order, starting with the one that waits for the check; null when nothing is held. */
  private kept: Buffer[] | null = null;
  /** They were being sent again for a retry: they are sent again as such (a request is retried once). */
  private retrying = false;

  constructor(private readonly host: HoldHost) {}

  get active(): boolean {
    return this.kept !== null;
  }

  /** Holds `first` and everything after it; the session holds what the client sends next. */
  start(first: Buffer, retrying: boolean): void {
    this.kept = [first];
    this.retrying = retrying;
    this.host.hold();
  }

  keep(buf: Buffer): void {
    (this.kept as Buffer[]).push(buf);
  }

  /** Ends the hold: hands back what was kept, and whether it was a retry. The caller sends it, then calls resumed. */
  take(): { kept: Buffer[]; retrying: boolean } | null {
    const kept = this.kept;
    this.kept = null;
    return kept && { kept, retrying: this.retrying };
  }

  /** The kept requests went; unless one of them started a new hold, the session's input flows again. */
  resumed(): void {
    if (this.kept === null) this.host.resume();
  }

  /** The server connection went: what was kept goes with it (the session ends or sends its frames elsewhere). */
  drop(): void {
    this.kept = null;
  }
}
