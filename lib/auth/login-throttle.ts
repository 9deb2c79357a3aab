// Failed-login throttling per client address: failures counted per window, the address refused for a while after too many; bounded memory.
import type { Clock } from '../clock.js';

/** The settings it reads, as the config snapshot holds them (durations in milliseconds). */
export interface ThrottleSettings {
  /** Failures from one address within a window that lock it out; 0 turns throttling off. */
  readonly auth_failure_limit: number;
  readonly auth_failure_window: number;
  readonly auth_failure_lockout: number;
}

/** What the owner hears: an address locked out (to log it), a login refused (to count it). */
export interface ThrottleEvents {
  locked(address: string, failures: number, lockoutMs: number): void;
  refused(address: string): void;
}

/** Addresses remembered at most: past it, the one whose last failure is oldest is forgotten. */
export const MAX_TRACKED_ADDRESSES = 10_000;

interface Entry {
  windowStart: number;
  failures: number;
  lockedUntil: number;
}

export class LoginThrottle {
  /** In order of last failure, oldest first: a Map keeps insertion order, and a failure re-inserts its entry. */
  private readonly entries = new Map<string, Entry>();

  constructor(
    private readonly clock: Clock,
    /** Read on every call, so a reload applies at once. */
    private readonly settings: () => ThrottleSettings,
    private readonly events: ThrottleEvents,
    private readonly capacity = MAX_TRACKED_ADDRESSES,
  ) {}

  /** Addresses remembered now (at most the capacity). */
  get size(): number {
    return this.entries.size;
  }

  /** How much longer the address is refused, in ms; 0 when it may log in. One map lookup. */
  refusedFor(address: string): number {
    const s = this.settings();
    if (s.auth_failure_limit <= 0) return 0;
    const e = this.entries.get(address);
    if (!e) return 0;
    const now = this.clock.now();
    const left = e.lockedUntil - now;
    if (left > 0) {
      this.events.refused(address);
      return left;
    }
    // Nothing left to remember: neither a lockout nor failures of a window still open.
    if (now - e.windowStart >= s.auth_failure_window) this.entries.delete(address);
    return 0;
  }

  /** Counts a failed login from the address; locks the address out when it reaches the limit. */
  failed(address: string): void {
    const s = this.settings();
    if (s.auth_failure_limit <= 0) return;
    const now = this.clock.now();
    const e = this.touch(address, now, s.auth_failure_window);
    e.failures++;
    if (e.failures < s.auth_failure_limit || e.lockedUntil > now || s.auth_failure_lockout <= 0) return;
    e.lockedUntil = now + s.auth_failure_lockout;
    this.events.locked(address, e.failures, s.auth_failure_lockout);
  }

  /** The address's entry, moved to the most recent end; a new one may push out the oldest. */
  private touch(address: string, now: number, windowMs: number): Entry {
    let e = this.entries.get(address);
    if (e) this.entries.delete(address);
    else if (this.entries.size >= this.capacity) this.entries.delete(this.entries.keys().next().value as string);
    if (!e) e = { windowStart: now, failures: 0, lockedUntil: 0 };
    else if (now - e.windowStart >= windowMs) {
      e.windowStart = now;
      e.failures = 0;
    }
    this.entries.set(address, e);
    return e;
  }
}
