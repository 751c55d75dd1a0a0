/**
 * Request deadlines: this module alone owns how a request's remaining time budget is read from the incoming
 * request, spent, and passed on (`x-deadline-ms`: milliseconds left, relative, so the callers' and callees'
 * clocks never need to agree — a skewed wall clock cannot break it).
 *
 *   client ─(x-deadline-ms: 2000?)─▶ api: Deadline(min(header, default)) ─(x-deadline-ms: remaining)─▶ orders
 *                                                                               └─▶ each call gets min(its timeout, remaining)
 */
import type { IncomingMessage } from 'node:http';

export const DEADLINE_HEADER = 'x-deadline-ms';

/** The budget ran out before a step could start (or finish). */
export class DeadlineExceededError extends Error {
  constructor(readonly step: string) {
    super(`deadline exceeded before ${step}`);
  }
}

/**
 * An absolute due time on the monotonic clock.
 * @example const d = Deadline.fromRequest(req, 2_000); const ms = d.budget(300, 'payments');
 */
export class Deadline {
  constructor(
    /** Due time in the `now()` clock's ms; Infinity when there is none. */
    readonly at: number,
    private readonly now: () => number = () => performance.now(),
  ) {}

  /** No deadline: the naive default. */
  static none(): Deadline {
    return new Deadline(Infinity);
  }

  /** From the incoming header (if valid), never longer than `defaultMs`. */
  static fromRequest(req: IncomingMessage, defaultMs: number, now: () => number = () => performance.now()): Deadline {
    const raw = req.headers[DEADLINE_HEADER];
    const given = typeof raw === 'string' && /^\d{1,9}$/.test(raw) ? Number(raw) : Infinity;
    return new Deadline(now() + Math.min(given, defaultMs), now);
  }

  remaining(): number {
    return Math.max(0, this.at - this.now());
  }

  /**
   * The time a step may take: its own timeout, cut to what is left. Throws DeadlineExceededError when less than
   * `minMs` is left — starting work that cannot finish only adds load.
   */
  budget(timeoutMs: number | undefined, step: string, minMs = 1): number | undefined {
    if (this.at === Infinity) return timeoutMs;
    const left = this.remaining();
    if (left < minMs) throw new DeadlineExceededError(step);
    return timeoutMs === undefined ? left : Math.min(timeoutMs, left);
  }

  /** The header to pass downstream (empty when there is no deadline). */
  header(): Record<string, string> {
    return this.at === Infinity ? {} : { [DEADLINE_HEADER]: String(Math.floor(this.remaining())) };
  }
}
