/**
 * Exponential backoff with decorrelated jitter: this module alone owns how long a retry waits.
 *
 * Each delay is drawn uniformly from [base, 3 × previous delay], capped at `max` (the "decorrelated jitter" of
 * the AWS architecture blog). Why jitter at all: retries from many clients that failed together must not come
 * back together. Why decorrelated rather than full jitter: the delay still grows about ×2 per attempt on
 * average, but each one depends on the last draw, so synchronized callers spread out after one round.
 */

export interface BackoffOptions {
  /** Lower bound of every delay, and the first "previous" one. */
  baseMs: number;
  /** No delay exceeds this. */
  maxMs: number;
  /** Uniform in [0, 1); injectable so tests are deterministic. */
  random?: () => number;
}

/**
 * One retry sequence's delays (make a new one per call being retried).
 * @example const b = new DecorrelatedJitter({ baseMs: 20, maxMs: 200 }); await sleep(b.next());
 */
export class DecorrelatedJitter {
  #previous: number;
  readonly #base: number;
  readonly #max: number;
  readonly #random: () => number;

  constructor(options: BackoffOptions) {
    this.#base = Math.max(0, options.baseMs);
    this.#max = Math.max(this.#base, options.maxMs);
    this.#random = options.random ?? Math.random;
    this.#previous = this.#base;
  }

  /** The next delay in ms, in [base, min(max, 3 × previous)]. */
  next(): number {
    const high = Math.min(this.#max, this.#previous * 3);
    const delay = Math.min(this.#max, this.#base + this.#random() * (high - this.#base));
    this.#previous = Math.max(delay, this.#base);
    return delay;
  }
}
