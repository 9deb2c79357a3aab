// The replies a server owes one client link, in request order: a ring of small entries, runs of plain requests merged.

/** What Sluice expects back for a request it sent (or, for Synth, answers itself). */
export const enum ReplyKind {
  /** Extended-query requests whose replies pass through untouched; `count` of them. */
  Pass,
  /** Bind of a client's named statement: passes through; may be healed if it fails as stale. */
  Statement,
  /**
   * The client's Describe of a named statement, or of the portal it just bound: passes through, and the
   * RowDescription it gets is recorded as what the client was shown. A Describe('S') may be healed like Statement.
   */
  Described,
  /** Sluice's own Describe('S') of a statement it just prepared: swallowed; its shape decides whether held requests go. */
  Verify,
  /** The client's Parse under Sluice's name: passes through; undone if it fails or is skipped. */
  ClientParse,
  /** A request sent to fail: its ErrorResponse is replaced by the pooler's own. */
  Probe,
  /** Sluice's own Parse: its ParseComplete is swallowed. */
  Prepare,
  /** Sluice's own Close: its CloseComplete is swallowed. */
  Close,
  /** Nothing was sent: Sluice writes the answer itself once the replies before it are out. */
  Synth,
  /** Sync: ends at ReadyForQuery. */
  Sync,
  /** Query or FunctionCall: ends at ReadyForQuery; skipped, like everything but Sync, after an extended-query error. */
  Query,
  /** A Sync whose ReadyForQuery is swallowed: the end of a failed attempt that Sluice retries. */
  Resync,
}

const INITIAL = 16;

export class ReplyQueue {
  // Plain small-integer arrays, not typed arrays: every client link has a queue, and a typed array's
  // off-heap buffer costs microseconds to allocate in a login storm.
  private kinds = zeros(INITIAL);
  private counts = zeros(INITIAL);
  private auxes = zeros(INITIAL);
  private refs: unknown[] = new Array<unknown>(INITIAL).fill(null);
  private head = 0;
  size = 0;

  /** Appends an entry; a Pass after a Pass only bumps its count. */
  push(kind: ReplyKind, ref: unknown = null, aux = 0): void {
    if (kind === ReplyKind.Pass && this.size > 0) {
      const last = this.index(this.size - 1);
      if (this.kinds[last] === ReplyKind.Pass) {
        this.counts[last]++;
        return;
      }
    }
    if (this.size === this.kinds.length) this.grow();
    const i = this.index(this.size++);
    this.kinds[i] = kind;
    this.counts[i] = 1;
    this.auxes[i] = aux;
    this.refs[i] = ref;
  }

  /** The n-th entry from the head. */
  kind(n: number): ReplyKind {
    return this.kinds[this.index(n)] as ReplyKind;
  }

  count(n: number): number {
    return this.counts[this.index(n)];
  }

  aux(n: number): number {
    return this.auxes[this.index(n)];
  }

  ref<T>(n: number): T {
    return this.refs[this.index(n)] as T;
  }

  setAux(n: number, aux: number): void {
    this.auxes[this.index(n)] = aux;
  }

  /** Takes k requests off the head entry; removes it when none are left. */
  take(k = 1): void {
    const i = this.head;
    this.counts[i] -= k;
    if (this.counts[i] <= 0) this.shift();
  }

  /** Removes the head entry. */
  shift(): void {
    this.refs[this.head] = null;
    this.head = (this.head + 1) % this.kinds.length;
    this.size--;
  }

  clear(): void {
    while (this.size > 0) this.shift();
    this.head = 0;
  }

  private index(n: number): number {
    return (this.head + n) % this.kinds.length;
  }

  private grow(): void {
    const cap = this.kinds.length * 2;
    const kinds = zeros(cap);
    const counts = zeros(cap);
    const auxes = zeros(cap);
    const refs = new Array<unknown>(cap).fill(null);
    for (let n = 0; n < this.size; n++) {
      const i = this.index(n);
      kinds[n] = this.kinds[i];
      counts[n] = this.counts[i];
      auxes[n] = this.auxes[i];
      refs[n] = this.refs[i];
    }
    this.kinds = kinds;
    this.counts = counts;
    this.auxes = auxes;
    this.refs = refs;
    this.head = 0;
  }
}

function zeros(n: number): number[] {
  return new Array<number>(n).fill(0);
}
